/**
 * One step of any cell kind from its input projection: the dispatch on
 * `spec.kind` that sequence runners use, so they need not know the kinds.
 *
 * @module
 */
import type { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import type { CellSpec, FusedWeights, State } from "./types.ts";
import { rnnRecurrentGates } from "./rnn.ts";
import { gruRecurrentGates } from "./gru.ts";
import { lstmRecurrentGates } from "./lstm.ts";

/**
 * The recurrent half of one step of any kind: the input projection
 * `xw = X_t W_x + b` `[B, G*H]` and the state to the next state. Not tidied.
 *
 * @throws {UsageError} for an unknown kind.
 *
 * @example
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
  xw: tf.Tensor2D,
  state: State,
): State {
  switch (spec.kind) {
    case "rnn":
      return { h: rnnRecurrentGates(weights, xw, state, spec).h };
    case "gru":
      return { h: gruRecurrentGates(weights, xw, state, spec).h };
    case "lstm": {
      const { h, c } = lstmRecurrentGates(weights, xw, state);
      return { h, c };
    }
  }
  throw new UsageError(`Cannot run a cell of kind "${spec.kind}": expected rnn, gru or lstm`);
}
