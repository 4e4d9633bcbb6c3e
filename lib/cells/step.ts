/**
 * One step of any cell kind, through its definition: the input projection
 * and the recurrent half that sequence runners use, so they need not know
 * the kinds.
 *
 * @module
 */
import type { Tensor2D } from "../ops/tensors.ts";
import type { CellSpec, FusedWeights, State } from "./definition.ts";
import { cellDefinition } from "./registry.ts";
import { inputProjection } from "./_fused.ts";

/**
 * The input half of every gate of any kind, `x` `[N, D]` to `[N, G*H]`:
 * the definition's own `project`, else `x W_x + b`. Not tidied.
 *
 * @example x W_x + b for an rnn
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const weights = { Wx: tf.ones([2, 3]) as tf.Tensor2D, Wh: tf.zeros([3, 3]) as tf.Tensor2D, b: tf.ones([3]) as tf.Tensor1D };
 * const xw = projectInput({ kind: "rnn", inputSize: 2, hiddenSize: 3 }, weights, tf.ones([1, 2]));
 * deepStrictEqual(Array.from(await xw.data()), [3, 3, 3]);
 * ```
 */
export function projectInput(
  spec: CellSpec,
  weights: FusedWeights,
  x: Tensor2D,
): Tensor2D {
  const def = cellDefinition(spec);
  return def.project ? def.project(spec, weights, x) : inputProjection(weights, x);
}

/**
 * The recurrent half of one step of any kind: the input projection
 * `xw` `[B, G*H]` (from {@linkcode projectInput}) and the state to the next
 * state. Not tidied.
 *
 * @throws {UsageError} for a kind the registry does not have.
 *
 * @example Zero weights and input: h = tanh(0)
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const weights = { Wx: tf.zeros([2, 3]), Wh: tf.zeros([3, 3]), b: tf.zeros([3]) } as never;
 * const { h } = recurrentStep({ kind: "rnn", inputSize: 2, hiddenSize: 3 }, weights, tf.zeros([1, 3]), { h: tf.ones([1, 3]) });
 * deepStrictEqual(Array.from(await h.data()), [0, 0, 0]);
 * ```
 */
export function recurrentStep(
  spec: CellSpec,
  weights: FusedWeights,
  xw: Tensor2D,
  state: State,
): State {
  return cellDefinition(spec).step(spec, weights, xw, state);
}

/**
 * One whole step of any kind, `x` `[B, D]` and the state to the next state.
 * Not tidied.
 *
 * @example A whole relu rnn step
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const weights = { Wx: tf.ones([2, 1]) as tf.Tensor2D, Wh: tf.zeros([1, 1]) as tf.Tensor2D, b: tf.zeros([1]) as tf.Tensor1D };
 * const spec = { kind: "rnn", inputSize: 2, hiddenSize: 1, nonlinearity: "relu" as const };
 * const { h } = cellStep(spec, weights, tf.ones([1, 2]), { h: tf.zeros([1, 1]) });
 * deepStrictEqual(Array.from(await h.data()), [2]);
 * ```
 */
export function cellStep(
  spec: CellSpec,
  weights: FusedWeights,
  x: Tensor2D,
  state: State,
): State {
  return recurrentStep(spec, weights, projectInput(spec, weights, x), state);
}
