/**
 * Shared pieces of the variable-length (packed) tests: padded batches with
 * garbage in the padding, one sequence cut out of a batch, and reads that work
 * on every backend (webgpu included: `await data()` only).
 */
import { NATIVE } from "../_native.ts";
import { ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { Rng } from "../../lib/rng.ts";
import type { CellKind, CellSpec, State } from "../../lib/cells/types.ts";
import { type Recurrent, recurrent } from "../../lib/layers/stack.ts";
import { normals, VARIANTS } from "../kernels/_helpers.ts";

/**
 * A batch `[T, B, D]` (row-major, time-major) whose real steps are N(0, 1)
 * drawn from `seed` and whose padding is `garbage` x N(0, 1) drawn from `junkSeed`.
 */

/** How close the variable-length results must be to their references. */
export const TOL = 1e-5;
/** The backends every property test runs on (some add webgpu, the slow software adapter). */
export const PROPERTY_BACKENDS = ["cpu", ...NATIVE, "wasm"];

export function paddedBatch(
  seed: number,
  T: number,
  D: number,
  lengths: number[],
  garbage: number,
  junkSeed = seed + 7919,
): Float32Array {
  const B = lengths.length;
  const real = normals(new Rng(seed), T * B * D);
  const junk = normals(new Rng(junkSeed), T * B * D, garbage);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      if (t < lengths[b]) continue;
      for (let i = 0; i < D; i++) real[(t * B + b) * D + i] = junk[(t * B + b) * D + i];
    }
  }
  return real;
}

/** Sequence `b` of a `[T, B, W]` array, its first `n` steps: `[n, 1, W]`. */
export function sliceSequence(
  data: ArrayLike<number>,
  B: number,
  W: number,
  b: number,
  n: number,
): Float32Array {
  const out = new Float32Array(n * W);
  for (let t = 0; t < n; t++) {
    for (let i = 0; i < W; i++) out[t * W + i] = data[(t * B + b) * W + i];
  }
  return out;
}

/** Row `b` of a `[B, W]` array. */
export function row(data: ArrayLike<number>, W: number, b: number): number[] {
  return Array.from({ length: W }, (_, i) => data[b * W + i]);
}

/** A random state per cell (`[B, H]`, and `c` for lstm), N(0, 0.5²). The caller disposes. */
export function randomStates(
  seed: number,
  count: number,
  B: number,
  H: number,
  lstm: boolean,
): State[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    const s: State = { h: tf.tensor2d(normals(rng, B * H, 0.5), [B, H]) };
    if (lstm) s.c = tf.tensor2d(normals(rng, B * H, 0.5), [B, H]);
    return s;
  });
}

/** Row `b` of every state, as new `[1, H]` tensors. The caller disposes. */
export function stateRows(states: State[], b: number): State[] {
  return states.map((s) => {
    const pick = (t: tf.Tensor2D) => tf.slice(t, [b, 0], [1, t.shape[1]]) as tf.Tensor2D;
    return s.c ? { h: pick(s.h), c: pick(s.c) } : { h: pick(s.h) };
  });
}

/** Every tensor of a list of states. */
export function stateTensorList(states: State[]): tf.Tensor[] {
  return states.flatMap((s) => (s.c ? [s.h, s.c] : [s.h]));
}

/** The largest absolute difference seen by {@linkcode assertNear}, for the report. */
export interface Worst {
  value: number;
  label: string;
}

/** The default record of {@linkcode assertNear}. */
export const worst: Worst = { value: 0, label: "" };

/**
 * Asserts `|actual - expected| <= tol` elementwise (absolute), naming the
 * worst entry, and keeps the largest difference in `record`.
 */
export function assertNear(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  label: string,
  record: Worst = worst,
): void {
  ok(
    actual.length === expected.length,
    `${label}: ${actual.length} values, expected ${expected.length}`,
  );
  let max = 0, at = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= max)) max = d, at = i;
  }
  if (max > record.value) record.value = max, record.label = label;
  ok(
    max <= tol,
    `${label}: max |difference| ${max.toExponential(2)} at ${at} ` +
      `(${actual[at]} vs ${expected[at]}) > ${tol}`,
  );
}

/** Asserts bit-for-bit equality (NaN never equals). */
export function assertSame(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string) {
  ok(
    actual.length === expected.length,
    `${label}: ${actual.length} values, expected ${expected.length}`,
  );
  for (let i = 0; i < actual.length; i++) {
    ok(actual[i] === expected[i], `${label}[${i}]: ${actual[i]} !== ${expected[i]}`);
  }
}

/** Asserts that every step `t >= lengths[b]` of a `[T, B, W]` array is exactly 0. */
export function assertPaddingZero(
  data: ArrayLike<number>,
  lengths: number[],
  W: number,
  label: string,
): void {
  const B = lengths.length;
  const T = data.length / (B * W);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      if (t < lengths[b]) continue;
      for (let i = 0; i < W; i++) {
        const v = data[(t * B + b) * W + i];
        ok(
          v === 0,
          `${label}: step ${t} of sequence ${b} (length ${lengths[b]}) is ${v}, expected 0`,
        );
      }
    }
  }
}

/** Cases: `T` and the lengths (one full, one of length 1; the second has no full one). */
export const CASES = [
  { T: 5, lengths: [5, 2, 1, 4] },
  { T: 6, lengths: [3, 1, 4] },
];
/** Stack shapes: one layer, bidirectional, two layers bidirectional. */
export const CONFIGS = [
  { layers: 1, bidirectional: false },
  { layers: 1, bidirectional: true },
  { layers: 2, bidirectional: true },
];
/** Input and hidden width of every property test. */
export const [D, H] = [3, 4];

/** A stack of a variant and shape with Glorot weights. */
export function stackOf(
  variant: (typeof VARIANTS)[number],
  config: (typeof CONFIGS)[number],
  seed: number,
): Recurrent {
  const { kind, nonlinearity, resetAfter } = variant.spec;
  return recurrent({
    cell: kind as CellKind,
    inputSize: D,
    hiddenSize: H,
    ...config,
    nonlinearity,
    resetAfter,
    init: "xavier",
    seed,
  });
}

/** The spec of a variant at the shared sizes. */
export function specOf(variant: (typeof VARIANTS)[number]): CellSpec {
  return { ...variant.spec, inputSize: D, hiddenSize: H };
}
