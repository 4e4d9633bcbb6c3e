/**
 * Types shared by every cell kind.
 *
 * Storage is fused: one input kernel `Wx` `[D, G*H]`, one recurrent kernel
 * `Wh` `[H, G*H]` and one bias `b` `[G*H]` per cell, so a step costs one matmul
 * per source. The gate blocks sit in this order along the last axis:
 *
 * | kind | G | blocks of `Wx`, `Wh`, `b` |
 * |---|---|---|
 * | rnn  | 1 | h |
 * | gru  | 3 | z (update), r (reset), h (candidate) |
 * | lstm | 4 | i (input), f (forget), o (output), c (candidate) |
 *
 * The sigmoid gates come first so one `sigmoid` covers them all. A GRU with
 * `resetAfter: true` also has `bhh` `[H]`, the recurrent bias of the candidate
 * that sits inside the reset product (PyTorch's `b_hn`).
 *
 * Users see the weights under the d2l names instead (see {@linkcode NamedWeights}).
 *
 * @module
 */
import type { tf } from "../tf.ts";

/** The cell kinds. */
export type CellKind = "rnn" | "gru" | "lstm";

/** The cell kinds, for validation and help text. */
export const CELL_KINDS: readonly CellKind[] = ["rnn", "gru", "lstm"];

/** Number of gate blocks G per cell kind in the fused storage. */
export const GATE_COUNT: Readonly<Record<CellKind, number>> = { rnn: 1, gru: 3, lstm: 4 };

/** The activation of a vanilla RNN. */
export type Nonlinearity = "tanh" | "relu";

/**
 * Fused weights of one cell (one layer, one direction).
 * Tensors are owned by whoever made the record.
 */
export interface FusedWeights {
  /** Input kernel `[D, G*H]`. */
  Wx: tf.Tensor2D;
  /** Recurrent kernel `[H, G*H]`. */
  Wh: tf.Tensor2D;
  /** Bias `[G*H]`. */
  b: tf.Tensor1D;
  /** GRU `resetAfter` only: recurrent candidate bias `[H]`, inside `R ⊙ (H W_hh + b_hh)`. */
  bhh?: tf.Tensor1D;
}

/** What makes a cell's arithmetic: its kind and the variant flags. */
export interface CellSpec {
  kind: CellKind;
  inputSize: number;
  hiddenSize: number;
  /** rnn only. @default "tanh" */
  nonlinearity?: Nonlinearity;
  /** gru only: reset gate applied after the recurrent matmul (cuDNN/PyTorch). @default false */
  resetAfter?: boolean;
}

/** Recurrent state as a named record: `{ h }` for rnn and gru, `{ h, c }` for lstm. Each `[B, H]`. */
export interface State {
  h: tf.Tensor2D;
  c?: tf.Tensor2D;
}

/** Weights under the d2l names (`W_xh`, `W_hh`, `b_h`, ...), shapes `[D, H]`, `[H, H]`, `[H]`. */
export type NamedWeights = Record<string, tf.Tensor>;

/** The result of running a cell over a sequence. */
export interface SequenceResult {
  /** Hidden states for every step, `[T, B, H]`. */
  outputs: tf.Tensor3D;
  /** The state after the last step. */
  state: State;
  /**
   * LSTM only, when asked for (`cellStates: true`): the cell state after every
   * step, `c_0 .. c_{T-1}`, `[T, B, H]`.
   */
  cells?: tf.Tensor3D;
}

/**
 * The gate blocks of each kind, in fused storage order. Block `g` of `Wx`,
 * `Wh` and `b` is exposed as `W_x{g}`, `W_h{g}` and `b_{g}` (the d2l names).
 */
export const GATE_BLOCKS: Readonly<Record<CellKind, readonly string[]>> = {
  rnn: ["h"],
  gru: ["z", "r", "h"],
  lstm: ["i", "f", "o", "c"],
};

/** {@linkcode FusedWeights} held in trainable variables: what a cell object owns. */
export interface FusedVariables extends FusedWeights {
  Wx: tf.Variable<tf.Rank.R2>;
  Wh: tf.Variable<tf.Rank.R2>;
  b: tf.Variable<tf.Rank.R1>;
  bhh?: tf.Variable<tf.Rank.R1>;
}
