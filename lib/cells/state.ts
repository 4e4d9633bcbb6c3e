/**
 * Helpers for state records (`{ h }` or `{ h, c }`), shared by every layer
 * and model that carries recurrent state.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor } from "../ops/tensors.ts";
import type { State } from "./definition.ts";

/**
 * The tensors of a state record.
 *
 * @example An rnn state has one tensor
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * deepStrictEqual(stateTensors({ h: tf.zeros([1, 2]) }).length, 1);
 * ```
 */
export function stateTensors(state: State): Tensor[] {
  return state.c ? [state.h, state.c] : [state.h];
}

/**
 * Frees a list of states (undefined is fine).
 *
 * @example Frees every tensor; undefined is fine
 * ```ts
 * import { tf } from "../tf.ts";
 * disposeStates([{ h: tf.zeros([1, 2]), c: tf.zeros([1, 2]) }]);
 * disposeStates(undefined);
 * ```
 */
export function disposeStates(states: State[] | undefined): void {
  if (states) tf.dispose(states.flatMap(stateTensors));
}
