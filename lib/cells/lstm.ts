/**
 * Long short-term memory (d2l §10.1, "Long Short-Term Memory (LSTM)"):
 *
 *     I_t = σ(X_t W_xi + H_{t-1} W_hi + b_i)      input gate
 *     F_t = σ(X_t W_xf + H_{t-1} W_hf + b_f)      forget gate
 *     O_t = σ(X_t W_xo + H_{t-1} W_ho + b_o)      output gate
 *     C̃_t = tanh(X_t W_xc + H_{t-1} W_hc + b_c)   candidate memory
 *     C_t = F_t ⊙ C_{t-1} + I_t ⊙ C̃_t
 *     H_t = O_t ⊙ tanh(C_t)
 *
 * Fused gate blocks: i, f, o, c (the three sigmoid gates first).
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor2D } from "../ops/tensors.ts";
import { matMul } from "../ops/matmul.ts";
import { tidy } from "../ops/tidy.ts";
import { UsageError } from "../errors.ts";
import type { CellDefinition, FusedWeights, NamedWeights, State } from "./definition.ts";
import { fusedToNamedWith, inputProjection, namedToFusedWith } from "./_fused.ts";

/** Every gate of one lstm step, each `[B, H]`. */
export interface LstmGates {
  /** Input gate I_t. */
  i: Tensor2D;
  /** Forget gate F_t. */
  f: Tensor2D;
  /** Output gate O_t. */
  o: Tensor2D;
  /** Candidate memory C̃_t. */
  cTilde: Tensor2D;
  /** New memory C_t. */
  c: Tensor2D;
  /** New hidden state H_t. */
  h: Tensor2D;
}

/**
 * The recurrent half of an lstm step, given the input projection
 * `xw = X_t [W_xi W_xf W_xo W_xc] + [b_i b_f b_o b_c]` `[B, 4H]`.
 * Used by `runSequence`, which projects the whole sequence at once.
 *
 * @example Zero weights: C_t = C_{t-1} / 2
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const weights = { Wx: tf.zeros([1, 4]) as tf.Tensor2D, Wh: tf.zeros([1, 4]) as tf.Tensor2D, b: tf.zeros([4]) as tf.Tensor1D };
 * const { c } = lstmRecurrentGates(weights, tf.zeros([1, 4]), { h: tf.zeros([1, 1]), c: tf.tensor2d([[6]]) });
 * deepStrictEqual(Array.from(await c.data()), [3]);
 * ```
 */
export function lstmRecurrentGates(
  weights: FusedWeights,
  xw: Tensor2D,
  state: State,
): LstmGates {
  if (state.c === undefined) throw new UsageError("Cannot run an lstm step: state.c is missing");
  const H = state.h.shape[1];
  const gates = tf.add(xw, matMul(state.h, weights.Wh)); // [B, 4H]
  const [ifo, cz] = tf.split(gates, [3 * H, H], 1); // [B, 3H], [B, H]
  const [i, f, o] = tf.split(tf.sigmoid(ifo), 3, 1) as Tensor2D[];
  const cTilde = tf.tanh(cz as Tensor2D);
  const c = tf.add<Tensor2D>(tf.mul(f, state.c), tf.mul(i, cTilde));
  const h = tf.mul<Tensor2D>(o, tf.tanh(c));
  return { i, f, o, cTilde, c, h };
}

/**
 * Every gate of one lstm step, `x` `[B, D]` and `state` `{ h, c }` `[B, H]`.
 * Not tidied: call inside `tf.tidy` (as {@linkcode lstmStep} does).
 *
 * @example Every gate, inside a tidy
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const weights = { Wx: tf.ones([2, 4]) as tf.Tensor2D, Wh: tf.zeros([1, 4]) as tf.Tensor2D, b: tf.zeros([4]) as tf.Tensor1D };
 * const state = { h: tf.zeros([1, 1]) as tf.Tensor2D, c: tf.zeros([1, 1]) as tf.Tensor2D };
 * const gates = tf.tidy(() => lstmGates(weights, tf.ones([1, 2]), state) as never);
 * deepStrictEqual(Object.keys(gates), ["i", "f", "o", "cTilde", "c", "h"]);
 * ```
 */
export function lstmGates(weights: FusedWeights, x: Tensor2D, state: State): LstmGates {
  return lstmRecurrentGates(weights, inputProjection(weights, x), state);
}

/**
 * One lstm step (equations in the module doc).
 *
 * @param weights fused `Wx` `[D, 4H]`, `Wh` `[H, 4H]`, `b` `[4H]` (blocks i, f, o, c).
 * @param x the input `[B, D]`.
 * @param state `{ h, c }`, each `[B, H]`.
 * @returns `{ h, c }`, new tensors the caller disposes.
 *
 * @example All-zero weights: every gate is 1/2 and C̃ = 0, so C_t = C_{t-1} / 2
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const weights = {
 *   Wx: tf.zeros<tf.Rank.R2>([2, 4]),
 *   Wh: tf.zeros<tf.Rank.R2>([1, 4]),
 *   b: tf.zeros<tf.Rank.R1>([4]),
 * };
 * const state = { h: tf.zeros<tf.Rank.R2>([1, 1]), c: tf.tensor2d([[6]]) };
 * const { c } = lstmStep(weights, tf.ones<tf.Rank.R2>([1, 2]), state);
 * deepStrictEqual(Array.from(await c!.data()), [3]);
 * ```
 */
export function lstmStep(weights: FusedWeights, x: Tensor2D, state: State): State {
  return tidy(() => {
    const { h, c } = lstmGates(weights, x, state);
    return { h, c };
  });
}

/**
 * The lstm as data for the registry: gate blocks i, f, o, c, state `{ h, c }`;
 * PyTorch's `nn.LSTM` (gates i, f, g, o) and ONNX's `LSTM` run it.
 *
 * @example The state has a memory cell
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(lstmDefinition.state, ["h", "c"]);
 * ```
 */
export const lstmDefinition: CellDefinition = {
  kind: "lstm",
  gates: ["i", "f", "o", "c"],
  state: ["h", "c"],
  step: (_spec, weights, xw, state) => {
    const { h, c } = lstmRecurrentGates(weights, xw, state);
    return { h, c };
  },
  torch: { blocks: [0, 1, 3, 2] }, // i <- i, f <- f, o <- o (3), c <- g (2)
  onnx: "LSTM",
};

/**
 * Splits fused lstm weights into `W_xi W_hi b_i`, `W_xf W_hf b_f`,
 * `W_xo W_ho b_o`, `W_xc W_hc b_c`. New tensors; the caller disposes.
 *
 * @example The d2l names, block by block
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const named = lstmWeightsToNamed({ Wx: tf.zeros([2, 4]) as tf.Tensor2D, Wh: tf.zeros([1, 4]) as tf.Tensor2D, b: tf.zeros([4]) as tf.Tensor1D });
 * deepStrictEqual(Object.keys(named).slice(0, 3), ["W_xi", "W_hi", "b_i"]);
 * ```
 */
export function lstmWeightsToNamed(weights: FusedWeights): NamedWeights {
  const [inputSize, hiddenSize] = [weights.Wx.shape[0], weights.Wh.shape[0]];
  return fusedToNamedWith(lstmDefinition, { kind: "lstm", inputSize, hiddenSize }, weights);
}

/**
 * Joins lstm weights under the d2l names into fused storage (new tensors).
 * @throws {UsageError} for a missing or extra name or a wrong shape.
 *
 * @example Names to fused storage
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const named: Record<string, tf.Tensor> = {};
 * for (const g of ["i", "f", "o", "c"]) Object.assign(named, { [`W_x${g}`]: tf.zeros([2, 1]), [`W_h${g}`]: tf.zeros([1, 1]), [`b_${g}`]: tf.zeros([1]) });
 * deepStrictEqual(lstmWeightsFromNamed(named, { inputSize: 2, hiddenSize: 1 }).b.shape, [4]);
 * ```
 */
export function lstmWeightsFromNamed(
  named: NamedWeights,
  sizes: { inputSize: number; hiddenSize: number },
): FusedWeights {
  return namedToFusedWith(lstmDefinition, { kind: "lstm", ...sizes }, named);
}
