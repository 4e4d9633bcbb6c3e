/**
 * The cell object shared by `rnnCell`, `gruCell` and `lstmCell`: weights in
 * variables around a cell file's pure step function and `runSequence`.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { CellSpec, FusedVariables, FusedWeights, RecurrentCell, State } from "./types.ts";
import {
  checkSpec,
  checkState,
  formatShape,
  fusedToNamed,
  namedToFused,
  tidy,
  zeroState,
} from "./_fused.ts";
import { initialWeights, type InitOptions } from "./init.ts";
import { runSequence } from "./sequence.ts";
import { UsageError } from "../errors.ts";

/** A pure step with the kind's options already bound. */
export type BoundStep = (weights: FusedWeights, x: tf.Tensor2D, state: State) => State;

/** Moves fused tensors into new variables and frees the tensors. */
export function toVariables(weights: FusedWeights): FusedVariables {
  const variables: FusedVariables = {
    Wx: tf.variable(weights.Wx),
    Wh: tf.variable(weights.Wh),
    b: tf.variable(weights.b),
  };
  if (weights.bhh) variables.bhh = tf.variable(weights.bhh);
  disposeFused(weights);
  return variables;
}

/** Frees every tensor of a fused record. */
export function disposeFused(weights: FusedWeights): void {
  tf.dispose([weights.Wx, weights.Wh, weights.b, ...(weights.bhh ? [weights.bhh] : [])]);
}

/** Copies fused tensors of the same shapes into the variables. */
export function assignFused(variables: FusedVariables, weights: FusedWeights): void {
  variables.Wx.assign(weights.Wx);
  variables.Wh.assign(weights.Wh);
  variables.b.assign(weights.b);
  if (variables.bhh && weights.bhh) variables.bhh.assign(weights.bhh);
}

/**
 * Builds a cell object.
 *
 * @param spec the cell's kind, sizes and flags (checked here).
 * @param init how to draw the starting weights.
 * @param step the cell file's pure step function, options bound.
 */
export function makeCell(spec: CellSpec, init: InitOptions, step: BoundStep): RecurrentCell {
  const checked = Object.freeze(checkSpec(spec));
  const weights = toVariables(initialWeights(checked, init));
  const { kind, inputSize } = checked;
  return {
    spec: checked,
    weights,
    getWeights: () => fusedToNamed(checked, weights),
    setWeights(named) {
      const fused = namedToFused(checked, named); // checks every name and shape first
      assignFused(weights, fused);
      disposeFused(fused);
    },
    step(x, state) {
      const action = `Cannot step a ${kind} cell`;
      if (x.rank !== 2 || x.shape[1] !== inputSize) {
        throw new UsageError(
          `${action}: x has shape ${formatShape(x.shape)}, expected [B, ${inputSize}]`,
        );
      }
      checkState(action, checked, state, x.shape[0]);
      return step(weights, x, state);
    },
    forward(xs, state) {
      if (state !== undefined) return runSequence(checked, weights, xs, state);
      // A zero state for the batch; runSequence checks xs itself.
      const batch = xs.rank === 3 ? xs.shape[1] : 1;
      return tidy(() => runSequence(checked, weights, xs, zeroState(checked, batch)));
    },
    dispose: () => disposeFused(weights),
  };
}
