/**
 * The vanilla RNN cell (d2l §9.4, "Recurrent Neural Networks"):
 *
 *     H_t = φ(X_t W_xh + H_{t-1} W_hh + b_h),   φ = tanh or relu
 *
 * Fused storage has one gate block (`G = 1`), so `Wx` is `W_xh`, `Wh` is
 * `W_hh` and `b` is `b_h`.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor2D } from "../ops/tensors.ts";
import { matMul } from "../ops/matmul.ts";
import { tidy } from "../ops/tidy.ts";
import type {
  CellDefinition,
  FusedWeights,
  NamedWeights,
  Nonlinearity,
  State,
} from "./definition.ts";
import { fusedToNamedWith, inputProjection, namedToFusedWith } from "./_fused.ts";

/** Options of the rnn step: the activation φ. */
export interface RnnStepOptions {
  /** φ. @default "tanh" */
  nonlinearity?: Nonlinearity;
}

/** Every gate of one rnn step (there is only the new hidden state). */
export interface RnnGates {
  /** `[B, H]`. */
  h: Tensor2D;
}

/**
 * The recurrent half of an rnn step, given the input projection
 * `xw = X_t W_xh + b_h` `[B, H]`: `H_t = φ(xw + H_{t-1} W_hh)`.
 * Used by `runSequence`, which projects the whole sequence at once.
 *
 * @example From a given projection
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const weights = { Wx: tf.zeros([1, 1]) as tf.Tensor2D, Wh: tf.ones([1, 1]) as tf.Tensor2D, b: tf.zeros([1]) as tf.Tensor1D };
 * const { h } = rnnRecurrentGates(weights, tf.tensor2d([[1]]), { h: tf.tensor2d([[1]]) }, { nonlinearity: "relu" });
 * deepStrictEqual(Array.from(await h.data()), [2]); // relu(1 + 1 * 1)
 * ```
 */
export function rnnRecurrentGates(
  weights: FusedWeights,
  xw: Tensor2D,
  state: State,
  options: RnnStepOptions = {},
): RnnGates {
  const z = tf.add<Tensor2D>(xw, matMul(state.h, weights.Wh)); // [B, H]
  const h = options.nonlinearity === "relu" ? tf.relu(z) : tf.tanh(z);
  return { h };
}

/**
 * Every gate of one rnn step, `x` `[B, D]` and `state.h` `[B, H]`.
 * Not tidied: call inside `tf.tidy` (as {@linkcode rnnStep} does).
 *
 * @example Inside a tidy
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const weights = { Wx: tf.ones([2, 1]) as tf.Tensor2D, Wh: tf.zeros([1, 1]) as tf.Tensor2D, b: tf.zeros([1]) as tf.Tensor1D };
 * const h = tf.tidy(() => rnnGates(weights, tf.ones([1, 2]), { h: tf.zeros([1, 1]) }).h);
 * deepStrictEqual(h.shape, [1, 1]);
 * ```
 */
export function rnnGates(
  weights: FusedWeights,
  x: Tensor2D,
  state: State,
  options: RnnStepOptions = {},
): RnnGates {
  return rnnRecurrentGates(weights, inputProjection(weights, x), state, options);
}

/**
 * One rnn step: `H_t = φ(X_t W_xh + H_{t-1} W_hh + b_h)`.
 *
 * @param weights fused `Wx` `[D, H]`, `Wh` `[H, H]`, `b` `[H]`.
 * @param x the input `[B, D]`.
 * @param state `{ h }` with `h` `[B, H]`.
 * @returns `{ h }`, a new tensor the caller disposes.
 *
 * @example relu(1 + 1) in every unit
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const weights = {
 *   Wx: tf.ones<tf.Rank.R2>([2, 3]),
 *   Wh: tf.zeros<tf.Rank.R2>([3, 3]),
 *   b: tf.zeros<tf.Rank.R1>([3]),
 * };
 * const x = tf.ones<tf.Rank.R2>([1, 2]), h0 = tf.zeros<tf.Rank.R2>([1, 3]);
 * const { h } = rnnStep(weights, x, { h: h0 }, { nonlinearity: "relu" }); // relu(1 + 1)
 * deepStrictEqual(Array.from(await h.data()), [2, 2, 2]);
 * ```
 */
export function rnnStep(
  weights: FusedWeights,
  x: Tensor2D,
  state: State,
  options: RnnStepOptions = {},
): State {
  return tidy(() => ({ h: rnnGates(weights, x, state, options).h }));
}

/**
 * The rnn as data for the registry: one gate block `h`, state `{ h }`, the
 * `nonlinearity` flag; PyTorch's `nn.RNN` and ONNX's `RNN` run it.
 *
 * @example One gate block
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(rnnDefinition.gates, ["h"]);
 * ```
 */
export const rnnDefinition: CellDefinition = {
  kind: "rnn",
  gates: ["h"],
  state: ["h"],
  flags: { nonlinearity: true },
  step: (spec, weights, xw, state) => ({ h: rnnRecurrentGates(weights, xw, state, spec).h }),
  torch: { blocks: [0] }, // h <- h
  onnx: "RNN",
};

/**
 * Splits fused rnn weights into `W_xh`, `W_hh`, `b_h` (new tensors; the caller disposes).
 *
 * @example The d2l names
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const named = rnnWeightsToNamed({ Wx: tf.zeros([2, 3]) as tf.Tensor2D, Wh: tf.zeros([3, 3]) as tf.Tensor2D, b: tf.zeros([3]) as tf.Tensor1D });
 * deepStrictEqual(Object.keys(named), ["W_xh", "W_hh", "b_h"]);
 * ```
 */
export function rnnWeightsToNamed(weights: FusedWeights): NamedWeights {
  const [inputSize, hiddenSize] = weights.Wx.shape;
  return fusedToNamedWith(rnnDefinition, { kind: "rnn", inputSize, hiddenSize }, weights);
}

/**
 * Joins `W_xh` `[D, H]`, `W_hh` `[H, H]`, `b_h` `[H]` into fused storage (new tensors).
 * @throws {UsageError} for a missing or extra name or a wrong shape.
 *
 * @example Back to fused storage
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const fused = rnnWeightsFromNamed({ W_xh: tf.zeros([2, 3]), W_hh: tf.zeros([3, 3]), b_h: tf.zeros([3]) }, { inputSize: 2, hiddenSize: 3 });
 * deepStrictEqual(fused.Wh.shape, [3, 3]);
 * ```
 */
export function rnnWeightsFromNamed(
  named: NamedWeights,
  sizes: { inputSize: number; hiddenSize: number },
): FusedWeights {
  return namedToFusedWith(rnnDefinition, { kind: "rnn", ...sizes }, named);
}
