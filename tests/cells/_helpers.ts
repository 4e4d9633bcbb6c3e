/** Shared helpers of the cell tests: tensors from reference arrays, and close-enough checks. */
import { ok, throws } from "node:assert";
import { UsageError } from "../../lib/errors.ts";
import { tf, useBackend } from "../../lib/tf.ts";
import type { CellSpec, FusedWeights, NamedWeights, State } from "../../lib/cells/types.ts";
import { rnnWeightsFromNamed } from "../../lib/cells/rnn.ts";
import { gruWeightsFromNamed } from "../../lib/cells/gru.ts";
import { lstmWeightsFromNamed } from "../../lib/cells/lstm.ts";
import {
  flat,
  type Kind,
  type Mat,
  type Named,
  type RefOptions,
  type RefState,
} from "../_reference.ts";

// Every cell test runs on cpu unless it says otherwise (and then restores cpu).
await useBackend("cpu");

/** One kind and variant of cell, as the tests enumerate them. */
export interface Variant {
  label: string;
  kind: Kind;
  options: RefOptions;
}

/** Every kind and variant: rnn tanh and relu, gru reset before and after, lstm. */
export const VARIANTS: Variant[] = [
  { label: "rnn tanh", kind: "rnn", options: { nonlinearity: "tanh" } },
  { label: "rnn relu", kind: "rnn", options: { nonlinearity: "relu" } },
  { label: "gru", kind: "gru", options: { resetAfter: false } },
  { label: "gru resetAfter", kind: "gru", options: { resetAfter: true } },
  { label: "lstm", kind: "lstm", options: {} },
];

/** Shapes `[T, B, D, H]` for the reference comparisons: batch 1, one step, hidden >= 3. */
export const SHAPES: [number, number, number, number][] = [
  [1, 1, 1, 3],
  [4, 1, 3, 4],
  [1, 3, 5, 3],
  [5, 2, 4, 7],
];

/** The spec of a variant at the given sizes. */
export function specOf(variant: Variant, D: number, H: number): CellSpec {
  const spec: CellSpec = { kind: variant.kind, inputSize: D, hiddenSize: H };
  if (variant.kind === "rnn") spec.nonlinearity = variant.options.nonlinearity;
  if (variant.kind === "gru") spec.resetAfter = variant.options.resetAfter;
  return spec;
}

export function tensor2d(m: Mat): tf.Tensor2D {
  return tf.tensor2d(m, [m.length, m[0].length]);
}

export function tensor3d(ms: Mat[]): tf.Tensor3D {
  return tf.tensor3d(ms, [ms.length, ms[0].length, ms[0][0].length]);
}

/** Reference weights as tensors under the same names. */
export function namedTensors(named: Named): NamedWeights {
  return Object.fromEntries(
    Object.entries(named).map((
      [k, v],
    ) => [k, Array.isArray(v[0]) ? tensor2d(v as Mat) : tf.tensor1d(v as number[])]),
  );
}

/** Fused weights built from reference weights through the cell file's own converter. */
export function fusedFromReference(
  variant: Variant,
  named: Named,
  D: number,
  H: number,
): FusedWeights {
  const tensors = namedTensors(named);
  const sizes = { inputSize: D, hiddenSize: H };
  const fused = variant.kind === "rnn"
    ? rnnWeightsFromNamed(tensors, sizes)
    : variant.kind === "gru"
    ? gruWeightsFromNamed(tensors, { ...sizes, resetAfter: variant.options.resetAfter })
    : lstmWeightsFromNamed(tensors, sizes);
  tf.dispose(Object.values(tensors));
  return fused;
}

/** A reference state as tensors. */
export function stateTensors(state: RefState): State {
  return state.c ? { h: tensor2d(state.h), c: tensor2d(state.c) } : { h: tensor2d(state.h) };
}

/**
 * Asserts that every entry of `actual` is within `tolerance` of `expected`
 * (absolute), naming the first entry that is not.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: unknown,
  tolerance: number,
  label: string,
): void {
  const want = flat(expected);
  ok(actual.length === want.length, `${label}: ${actual.length} values, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const diff = Math.abs(actual[i] - want[i]);
    ok(
      diff <= tolerance,
      `${label}[${i}]: got ${actual[i]}, expected ${want[i]} (|diff| ${
        diff.toExponential(2)
      } > ${tolerance})`,
    );
  }
}

/** Reads a tensor (works on every backend, webgpu included). */
export async function values(t: tf.Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

/** Asserts that `fn` throws a UsageError whose message contains every one of `parts`. */
export function rejectsWith(fn: () => unknown, ...parts: string[]): void {
  throws(fn, (e: Error) => {
    ok(e instanceof UsageError, `a UsageError, got ${e}`);
    for (const part of parts) ok(e.message.includes(part), `"${e.message}" mentions ${part}`);
    return true;
  });
}
