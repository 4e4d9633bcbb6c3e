/**
 * Cell objects: `rnnCell`, `gruCell` and `lstmCell`, each its weights in
 * variables around the cell file's pure step function (`lib/cells/`) and
 * {@linkcode runSequence} for whole sequences.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor2D, Tensor3D } from "../ops/tensors.ts";
import type {
  CellSpec,
  FusedVariables,
  FusedWeights,
  NamedWeights,
  Nonlinearity,
  SequenceResult,
  State,
} from "../cells/definition.ts";
import { rnnStep } from "../cells/rnn.ts";
import { gruStep } from "../cells/gru.ts";
import { lstmStep } from "../cells/lstm.ts";
import { cellStep } from "../cells/step.ts";
import {
  checkSpec,
  checkState,
  fusedTensors,
  fusedToNamed,
  namedToFused,
  zeroState,
} from "../cells/spec.ts";
import { formatShape } from "../ops/shape.ts";
import { tidy } from "../ops/tidy.ts";
import { initialWeights, type InitName, type InitOptions } from "../cells/init.ts";
import { runSequence, type SequenceOptions } from "./sequence.ts";
import { UsageError } from "../errors.ts";

/**
 * A cell object: one layer, one direction, weights in variables. A convenience
 * over the cell file's pure step function and `runSequence`, not a second
 * implementation. Made by `rnnCell`, `gruCell` and `lstmCell`.
 */
export interface RecurrentCell {
  /** The cell's kind, sizes and variant flags. */
  readonly spec: Readonly<CellSpec>;
  /** The fused weights, in variables owned by the cell (freed by `dispose`). */
  readonly weights: FusedVariables;
  /** The weights under the d2l names: new tensors, the caller disposes them. */
  getWeights(): NamedWeights;
  /** Replaces every weight; names and shapes are checked before anything changes. */
  setWeights(named: NamedWeights): void;
  /** One step: `x` `[B, D]` and the state `[B, H]` to the next state (new tensors). */
  step(x: Tensor2D, state: State): State;
  /**
   * The whole sequence `xs` `[T, B, D]` from `state` (zeros when omitted);
   * `options.lengths` makes it a variable-length batch (see `runSequence`).
   */
  forward(xs: Tensor3D, state?: State, options?: SequenceOptions): SequenceResult;
  /** Frees the weight variables. */
  dispose(): void;
}

/** A pure step with the kind's options already bound. */
export type BoundStep = (weights: FusedWeights, x: Tensor2D, state: State) => State;

/**
 * Moves fused tensors (`Wx`, `Wh`, `b` and any extras) into new variables and frees the tensors.
 *
 * @example Tensors into variables
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * const v = toVariables({ Wx: tf.zeros([1, 1]) as tf.Tensor2D, Wh: tf.zeros([1, 1]) as tf.Tensor2D, b: tf.zeros([1]) as tf.Tensor1D });
 * ok(v.Wx instanceof tf.Variable);
 * disposeFused(v);
 * ```
 */
export function toVariables(weights: FusedWeights): FusedVariables {
  const variables: FusedVariables = {
    Wx: tf.variable(weights.Wx),
    Wh: tf.variable(weights.Wh),
    b: tf.variable(weights.b),
  };
  for (const [key, t] of Object.entries(weights)) {
    if (!(key in variables) && t !== undefined) variables[key] = tf.variable(t);
  }
  disposeFused(weights);
  return variables;
}

/**
 * Frees every tensor of a fused record.
 *
 * @example Free a fused record
 * ```ts
 * import { tf } from "../tf.ts";
 * disposeFused({ Wx: tf.zeros([1, 1]) as tf.Tensor2D, Wh: tf.zeros([1, 1]) as tf.Tensor2D, b: tf.zeros([1]) as tf.Tensor1D });
 * ```
 */
export function disposeFused(weights: FusedWeights): void {
  tf.dispose(fusedTensors(weights));
}

/**
 * Copies fused tensors of the same shapes into the variables, key by key.
 *
 * @example Assign new values
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const v = toVariables({ Wx: tf.zeros([1, 1]) as tf.Tensor2D, Wh: tf.zeros([1, 1]) as tf.Tensor2D, b: tf.zeros([1]) as tf.Tensor1D });
 * assignFused(v, { Wx: tf.ones([1, 1]) as tf.Tensor2D, Wh: tf.ones([1, 1]) as tf.Tensor2D, b: tf.ones([1]) as tf.Tensor1D });
 * deepStrictEqual(await v.b.array(), [1]);
 * ```
 */
export function assignFused(variables: FusedVariables, weights: FusedWeights): void {
  for (const [key, variable] of Object.entries(variables)) {
    const t = weights[key];
    if (variable !== undefined && t !== undefined) variable.assign(t);
  }
}

/**
 * Builds a cell object of any kind (the registry's, or `spec.definition`).
 *
 * @param spec the cell's kind, sizes and flags (checked here).
 * @param init how to draw the starting weights.
 * @param step the pure step function, options bound. @default the definition's, through `cellStep`
 *
 * @example A cell of any registered kind
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const cell = makeCell({ kind: "gru", inputSize: 2, hiddenSize: 3 }, { seed: 1 });
 * deepStrictEqual(cell.step(tf.ones([1, 2]), { h: tf.zeros([1, 3]) }).h.shape, [1, 3]);
 * cell.dispose();
 * ```
 */
export function makeCell(spec: CellSpec, init: InitOptions = {}, step?: BoundStep): RecurrentCell {
  const checked = Object.freeze(checkSpec(spec));
  const weights = toVariables(initialWeights(checked, init));
  const { kind, inputSize } = checked;
  const bound: BoundStep = step ??
    ((w, x, state) => tidy(() => cellStep(checked, w, x, state)));
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
      return bound(weights, x, state);
    },
    forward(xs, state, options) {
      if (state !== undefined) return runSequence(checked, weights, xs, state, options);
      // A zero state for the batch; runSequence checks xs itself.
      const batch = xs.rank === 3 ? xs.shape[1] : 1;
      return tidy(() => runSequence(checked, weights, xs, zeroState(checked, batch), options));
    },
    dispose: () => disposeFused(weights),
  };
}

/** Options of {@linkcode rnnCell}. */
export interface RnnCellOptions {
  /** D, the width of each input. */
  inputSize: number;
  /** H, the width of the hidden state. */
  hiddenSize: number;
  /** φ. @default "tanh" */
  nonlinearity?: Nonlinearity;
  /** How to draw the kernels (see `InitName`). @default "normal" */
  init?: InitName;
  /** Seed of the initialiser. @default 0 */
  seed?: number;
}

/**
 * A vanilla RNN cell with its weights in variables.
 *
 * @example Run a sequence from a zero state
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const cell = rnnCell({ inputSize: 5, hiddenSize: 4, nonlinearity: "relu", seed: 1 });
 * const { outputs, state } = cell.forward(tf.ones([3, 2, 5])); // [T, B, D]
 * deepStrictEqual(outputs.shape, [3, 2, 4]);
 * deepStrictEqual(state.h.shape, [2, 4]);
 * deepStrictEqual(Object.keys(cell.getWeights()), ["W_xh", "W_hh", "b_h"]);
 * cell.dispose();
 * ```
 */
export function rnnCell(options: RnnCellOptions): RecurrentCell {
  const { inputSize, hiddenSize, nonlinearity = "tanh", init, seed } = options;
  const step: BoundStep = (weights, x, state) => rnnStep(weights, x, state, { nonlinearity });
  return makeCell({ kind: "rnn", inputSize, hiddenSize, nonlinearity }, { init, seed }, step);
}

/** Options of {@linkcode gruCell}. */
export interface GruCellOptions {
  /** D, the width of each input. */
  inputSize: number;
  /** H, the width of the hidden state. */
  hiddenSize: number;
  /** Reset gate after the recurrent matmul, with the extra bias `b_hh` (PyTorch's GRU). @default false */
  resetAfter?: boolean;
  /** How to draw the kernels (see `InitName`). @default "normal" */
  init?: InitName;
  /** Seed of the initialiser. @default 0 */
  seed?: number;
}

/**
 * A GRU cell with its weights in variables.
 *
 * @example PyTorch's variant has the extra bias b_hh
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const cell = gruCell({ inputSize: 5, hiddenSize: 4, resetAfter: true });
 * const { outputs } = cell.forward(tf.ones([3, 2, 5]), { h: tf.zeros([2, 4]) });
 * deepStrictEqual(outputs.shape, [3, 2, 4]);
 * deepStrictEqual(cell.getWeights().b_hh.shape, [4]);
 * cell.dispose();
 * ```
 */
export function gruCell(options: GruCellOptions): RecurrentCell {
  const { inputSize, hiddenSize, resetAfter = false, init, seed } = options;
  const step: BoundStep = (weights, x, state) => gruStep(weights, x, state, { resetAfter });
  return makeCell({ kind: "gru", inputSize, hiddenSize, resetAfter }, { init, seed }, step);
}

/** Options of {@linkcode lstmCell}. */
export interface LstmCellOptions {
  /** D, the width of each input. */
  inputSize: number;
  /** H, the width of the hidden state and memory. */
  hiddenSize: number;
  /** Starting value of the forget-gate bias `b_f` (1 is a common choice). @default 0 */
  forgetBias?: number;
  /** How to draw the kernels (see `InitName`). @default "normal" */
  init?: InitName;
  /** Seed of the initialiser. @default 0 */
  seed?: number;
}

/**
 * An LSTM cell with its weights in variables.
 *
 * @example The state is a named record { h, c }
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const cell = lstmCell({ inputSize: 5, hiddenSize: 4, forgetBias: 1 });
 * const { state } = cell.forward(tf.ones([3, 2, 5]));
 * deepStrictEqual([state.h.shape, state.c!.shape], [[2, 4], [2, 4]]);
 * deepStrictEqual(Array.from(await cell.getWeights().b_f.data()), [1, 1, 1, 1]);
 * cell.dispose();
 * ```
 */
export function lstmCell(options: LstmCellOptions): RecurrentCell {
  const { inputSize, hiddenSize, forgetBias, init, seed } = options;
  return makeCell({ kind: "lstm", inputSize, hiddenSize }, { init, seed, forgetBias }, lstmStep);
}
