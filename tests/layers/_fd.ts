/**
 * Shared pieces of the layer tests (embedding, dense, dropout, attention):
 * seeded float32-representable data, central finite differences of a plain-JS
 * float64 loss, and gradients of a tf loss read back as arrays.
 */
import { ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { Rng } from "../../lib/rng.ts";
import { normals } from "../kernels/_helpers.ts";

export { assertClose, onBackend } from "../kernels/_helpers.ts";
export { finiteDifferencesOf as finiteDifferences } from "../kernels/_reference64.ts";

/** A seeded tensor of N(0, std²) values and the same numbers as float64. */
export interface Data {
  shape: number[];
  /** The values, float32-representable, in float64 for the reference. */
  f64: Float64Array;
}

/** Seeded N(0, std²) data of a shape (float32-representable). */
export function randomData(shape: number[], seed: number, std = 1): Data {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, f64: Float64Array.from(normals(new Rng(seed), n, std)) };
}

/** The data as a float32 tensor on the current backend. */
export function toTensor<T extends tf.Tensor = tf.Tensor>(data: Data): T {
  return tf.tensor(Float32Array.from(data.f64), data.shape) as T;
}

/** `Σ a ⊙ b` of two equal-length arrays, float64. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Every value of a tensor, read with `await data()` (works on webgpu). */
export async function read(t: tf.Tensor): Promise<Float64Array> {
  return Float64Array.from(await t.data());
}

/**
 * Runs `f` `repeats` times after one warm-up and asserts that the number of
 * live tensors does not grow.
 */
export async function assertNoLeak(f: () => Promise<void> | void, repeats = 3): Promise<void> {
  await f();
  const before = tf.memory().numTensors;
  for (let i = 0; i < repeats; i++) await f();
  const after = tf.memory().numTensors;
  ok(after === before, `numTensors went from ${before} to ${after} over ${repeats} calls`);
}

/** Asserts that every entry of `values` at the flagged positions is exactly 0. */
export function assertZeroAt(
  values: ArrayLike<number>,
  isZero: (i: number) => boolean,
  label: string,
): void {
  let checked = 0;
  for (let i = 0; i < values.length; i++) {
    if (!isZero(i)) continue;
    checked++;
    ok(values[i] === 0, `${label}[${i}] is ${values[i]}, expected exactly 0`);
  }
  ok(checked > 0, `${label}: no position was checked`);
}
