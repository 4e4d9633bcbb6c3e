/**
 * Checks and conversions for any cell kind, through its definition (the
 * registry's, or a user's own in `spec.definition`): the spec and its flags,
 * fused weights and state shapes, zero states, and the d2l names.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor2D } from "../ops/tensors.ts";
import { checkShape } from "../ops/shape.ts";
import { UsageError } from "../errors.ts";
import type { CellParameter, CellSpec, FusedWeights, NamedWeights, State } from "./definition.ts";
import { cellDefinition, checkCellOptions } from "./registry.ts";
import {
  checkFusedWith,
  fusedToNamedWith,
  namedToFusedWith,
  parametersOf,
  weightNamesWith,
} from "./_fused.ts";

function isPositiveInteger(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n > 0;
}

/**
 * Checks a spec's kind, sizes and flags; returns a copy with the kind's own
 * flags filled in (`nonlinearity` for rnn, `resetAfter` for gru). A flag given
 * to a kind that has no use for it is an error, not a silent ignore.
 *
 * @throws {UsageError} for an unknown kind, a bad size or a flag on the wrong kind.
 *
 * @example A gru spec gets resetAfter: false
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const spec = checkSpec({ kind: "gru", inputSize: 2, hiddenSize: 3 });
 * deepStrictEqual(spec.resetAfter, false);
 * ```
 */
export function checkSpec(spec: CellSpec): CellSpec {
  const def = cellDefinition(spec);
  for (const key of ["inputSize", "hiddenSize"] as const) {
    if (!isPositiveInteger(spec[key])) {
      throw new UsageError(
        `Cannot build a cell of kind "${spec.kind}": ${key} is ${
          spec[key]
        }, expected a positive integer`,
      );
    }
  }
  const { kind, inputSize, hiddenSize, nonlinearity, resetAfter } = spec;
  checkCellOptions(spec, { nonlinearity, resetAfter });
  const checked: CellSpec = { kind, inputSize, hiddenSize };
  if (def.flags?.nonlinearity) checked.nonlinearity = nonlinearity ?? "tanh";
  if (def.flags?.resetAfter) checked.resetAfter = resetAfter ?? false;
  if (spec.definition !== undefined) checked.definition = spec.definition;
  return checked;
}

/**
 * The extra parameters of a spec beyond `Wx`, `Wh`, `b` (a reset-after GRU's `bhh`, ...).
 *
 * @example An lstm has no extras
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(cellParameters({ kind: "lstm", inputSize: 2, hiddenSize: 3 }), []);
 * ```
 */
export function cellParameters(spec: CellSpec): readonly CellParameter[] {
  return parametersOf(cellDefinition(spec), spec);
}

/**
 * The keys of a spec's fused record, in a stable order: `Wx`, `Wh`, `b`, then the extras.
 *
 * @example A reset-after gru adds bhh
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const spec = { kind: "gru", inputSize: 2, hiddenSize: 3, resetAfter: true };
 * deepStrictEqual(fusedKeys(spec), ["Wx", "Wh", "b", "bhh"]);
 * ```
 */
export function fusedKeys(spec: CellSpec): string[] {
  return ["Wx", "Wh", "b", ...cellParameters(spec).map((p) => p.key)];
}

/**
 * The tensors of a fused record in {@linkcode fusedKeys} order (those present).
 *
 * @example Wx, Wh and b
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const w = { Wx: tf.zeros([1, 1]) as tf.Tensor2D, Wh: tf.zeros([1, 1]) as tf.Tensor2D, b: tf.zeros([1]) as tf.Tensor1D };
 * strictEqual(fusedTensors(w).length, 3);
 * ```
 */
export function fusedTensors<W extends FusedWeights>(weights: W): NonNullable<W[string]>[] {
  const extras = Object.keys(weights).filter((k) => k !== "Wx" && k !== "Wh" && k !== "b");
  const tensors: NonNullable<W[string]>[] = [];
  for (const key of ["Wx", "Wh", "b", ...extras]) {
    const t = weights[key];
    if (t !== undefined && t !== null) tensors.push(t as NonNullable<W[string]>);
  }
  return tensors;
}

/**
 * Checks the fused weights' shapes against the spec (extras exactly as the definition declares).
 *
 * @throws {UsageError} naming the weight and both shapes.
 *
 * @example A misshapen bias is named
 * ```ts
 * import { throws } from "node:assert";
 * import { tf } from "../tf.ts";
 * const spec = { kind: "rnn", inputSize: 2, hiddenSize: 1 };
 * const w = { Wx: tf.zeros([2, 1]) as tf.Tensor2D, Wh: tf.zeros([1, 1]) as tf.Tensor2D, b: tf.zeros([2]) as tf.Tensor1D };
 * throws(() => checkFused("Cannot run", spec, w), /b has shape \[2\], expected \[1\]/);
 * ```
 */
export function checkFused(action: string, spec: CellSpec, weights: FusedWeights): void {
  checkFusedWith(cellDefinition(spec), action, spec, weights);
}

/**
 * Checks a state against the spec and batch size: `h` `[B, H]`, plus `c` for kinds with a memory.
 *
 * @throws {UsageError} naming the missing, extra or misshapen tensor.
 *
 * @example An lstm state needs c
 * ```ts
 * import { throws } from "node:assert";
 * import { tf } from "../tf.ts";
 * const spec = { kind: "lstm", inputSize: 2, hiddenSize: 3 };
 * throws(() => checkState("Cannot run", spec, { h: tf.zeros([1, 3]) as tf.Tensor2D }, 1), /state.c is missing/);
 * ```
 */
export function checkState(action: string, spec: CellSpec, state: State, batch: number): void {
  const expected = [batch, spec.hiddenSize];
  checkShape(action, "state.h", state.h, expected);
  if (cellDefinition(spec).state.includes("c")) checkShape(action, "state.c", state.c, expected);
  else if (state.c !== undefined) {
    throw new UsageError(`${action}: state.c is given, but only an lstm cell has it`);
  }
}

/**
 * A zero state for `batch` rows: new tensors, the caller disposes them.
 *
 * @example An lstm's zero state has c
 * ```ts
 * import { ok } from "node:assert";
 * ok(zeroState({ kind: "lstm", inputSize: 2, hiddenSize: 3 }, 4).c !== undefined);
 * ```
 */
export function zeroState(spec: CellSpec, batch: number): State {
  const h = tf.zeros([batch, spec.hiddenSize]) as Tensor2D;
  if (!cellDefinition(spec).state.includes("c")) return { h };
  return { h, c: tf.zeros([batch, spec.hiddenSize]) as Tensor2D };
}

/**
 * The d2l names of a spec's weights, in block order, then the extras' names.
 *
 * @example The rnn's three names
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(weightNames({ kind: "rnn", inputSize: 2, hiddenSize: 3 }), ["W_xh", "W_hh", "b_h"]);
 * ```
 */
export function weightNames(spec: CellSpec): string[] {
  return weightNamesWith(cellDefinition(spec), spec);
}

/**
 * Splits fused weights into the d2l names. New tensors; the caller disposes them.
 *
 * @example Fused rnn weights under the d2l names
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const spec = { kind: "rnn", inputSize: 2, hiddenSize: 1 };
 * const w = { Wx: tf.zeros([2, 1]) as tf.Tensor2D, Wh: tf.zeros([1, 1]) as tf.Tensor2D, b: tf.zeros([1]) as tf.Tensor1D };
 * deepStrictEqual(Object.keys(fusedToNamed(spec, w)), ["W_xh", "W_hh", "b_h"]);
 * ```
 */
export function fusedToNamed(spec: CellSpec, weights: FusedWeights): NamedWeights {
  return fusedToNamedWith(cellDefinition(spec), spec, weights);
}

/**
 * Joins weights under the d2l names into fused storage, after checking the
 * names and shapes. New tensors; the caller disposes them.
 *
 * @throws {UsageError} for a missing or extra name or a wrong shape.
 *
 * @example d2l names to fused storage
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const spec = { kind: "rnn", inputSize: 2, hiddenSize: 1 };
 * const w = namedToFused(spec, { W_xh: tf.zeros([2, 1]), W_hh: tf.zeros([1, 1]), b_h: tf.zeros([1]) });
 * deepStrictEqual(w.Wx.shape, [2, 1]);
 * ```
 */
export function namedToFused(
  spec: CellSpec,
  named: NamedWeights,
  action?: string,
): FusedWeights {
  return namedToFusedWith(cellDefinition(spec), spec, named, action);
}
