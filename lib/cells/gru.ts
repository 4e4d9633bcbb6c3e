/**
 * The gated recurrent unit (d2l §10.2, "Gated Recurrent Units (GRU)"):
 *
 *     Z_t = σ(X_t W_xz + H_{t-1} W_hz + b_z)                      update gate
 *     R_t = σ(X_t W_xr + H_{t-1} W_hr + b_r)                      reset gate
 *     H̃_t = tanh(X_t W_xh + (R_t ⊙ H_{t-1}) W_hh + b_h)           candidate (d2l)
 *     H̃_t = tanh(X_t W_xh + R_t ⊙ (H_{t-1} W_hh + b_hh) + b_h)    candidate (resetAfter)
 *     H_t = Z_t ⊙ H_{t-1} + (1 − Z_t) ⊙ H̃_t
 *
 * `resetAfter` is the cuDNN / PyTorch / Keras `reset_after` variant, whose
 * extra recurrent bias `b_hh` is PyTorch's `b_hn`. Fused gate blocks: z, r, h.
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

/** Options of the gru step: where the reset gate applies. */
export interface GruStepOptions {
  /** Reset gate after the recurrent matmul (needs `weights.bhh`). @default false */
  resetAfter?: boolean;
}

/** Every gate of one gru step, each `[B, H]`. */
export interface GruGates {
  /** Update gate Z_t. */
  z: Tensor2D;
  /** Reset gate R_t. */
  r: Tensor2D;
  /** Candidate state H̃_t. */
  hTilde: Tensor2D;
  /** New hidden state H_t. */
  h: Tensor2D;
}

/**
 * The recurrent half of a gru step, given the input projection
 * `xw = X_t [W_xz W_xr W_xh] + [b_z b_r b_h]` `[B, 3H]`.
 * Used by `runSequence`, which projects the whole sequence at once.
 *
 * @example Zero weights: Z = 1/2, H~ = 0
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const weights = { Wx: tf.zeros([1, 3]) as tf.Tensor2D, Wh: tf.zeros([1, 3]) as tf.Tensor2D, b: tf.zeros([3]) as tf.Tensor1D };
 * const { z, h } = gruRecurrentGates(weights, tf.zeros([1, 3]), { h: tf.tensor2d([[4]]) });
 * deepStrictEqual([...await z.data(), ...await h.data()], [0.5, 2]);
 * ```
 */
export function gruRecurrentGates(
  weights: FusedWeights,
  xw: Tensor2D,
  state: State,
  options: GruStepOptions = {},
): GruGates {
  const H = state.h.shape[1];
  if (options.resetAfter && weights.bhh === undefined) {
    throw new UsageError("Cannot run a resetAfter gru step: weights.bhh is missing");
  }
  const [xzr, xh] = tf.split(xw, [2 * H, H], 1); // [B, 2H], [B, H]
  let hzr: Tensor2D, hh: Tensor2D; // H W_h for the z, r blocks [B, 2H]; candidate [B, H]
  let z: Tensor2D, r: Tensor2D;
  if (options.resetAfter) {
    // One recurrent matmul for all three blocks; R multiplies its candidate part afterwards.
    [hzr, hh] = tf.split(matMul(state.h, weights.Wh), [2 * H, H], 1);
    [z, r] = tf.split(tf.sigmoid(tf.add(xzr, hzr)), 2, 1) as Tensor2D[];
    hh = tf.mul(r, tf.add(hh, weights.bhh!)); // R ⊙ (H W_hh + b_hh)
  } else {
    // The candidate needs R first: its matmul reads R ⊙ H.
    const [Whzr, Whh] = tf.split(weights.Wh, [2 * H, H], 1) as Tensor2D[]; // [H, 2H], [H, H]
    hzr = matMul(state.h, Whzr);
    [z, r] = tf.split(tf.sigmoid(tf.add(xzr, hzr)), 2, 1) as Tensor2D[];
    hh = matMul(tf.mul(r, state.h), Whh); // (R ⊙ H) W_hh
  }
  const hTilde = tf.tanh(tf.add<Tensor2D>(xh, hh));
  const h = tf.add<Tensor2D>(tf.mul(z, state.h), tf.mul(tf.sub(1, z), hTilde));
  return { z, r, hTilde, h };
}

/**
 * Every gate of one gru step, `x` `[B, D]` and `state.h` `[B, H]`.
 * Not tidied: call inside `tf.tidy` (as {@linkcode gruStep} does).
 *
 * @example Every gate, inside a tidy
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const weights = { Wx: tf.ones([2, 3]) as tf.Tensor2D, Wh: tf.zeros([1, 3]) as tf.Tensor2D, b: tf.zeros([3]) as tf.Tensor1D };
 * const gates = tf.tidy(() => gruGates(weights, tf.ones([1, 2]), { h: tf.zeros([1, 1]) }) as never);
 * deepStrictEqual(Object.keys(gates), ["z", "r", "hTilde", "h"]);
 * ```
 */
export function gruGates(
  weights: FusedWeights,
  x: Tensor2D,
  state: State,
  options: GruStepOptions = {},
): GruGates {
  return gruRecurrentGates(weights, inputProjection(weights, x), state, options);
}

/**
 * One gru step (equations in the module doc).
 *
 * @param weights fused `Wx` `[D, 3H]`, `Wh` `[H, 3H]`, `b` `[3H]` (blocks z, r, h),
 *   and `bhh` `[H]` when `resetAfter`.
 * @param x the input `[B, D]`.
 * @param state `{ h }` with `h` `[B, H]`.
 * @returns `{ h }`, a new tensor the caller disposes.
 *
 * @example All-zero weights: Z = 1/2 and H̃ = 0, so H_t = H_{t-1} / 2
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const weights = {
 *   Wx: tf.zeros<tf.Rank.R2>([2, 3]),
 *   Wh: tf.zeros<tf.Rank.R2>([1, 3]),
 *   b: tf.zeros<tf.Rank.R1>([3]),
 * };
 * const h0 = tf.tensor2d([[4]]);
 * const { h } = gruStep(weights, tf.ones<tf.Rank.R2>([1, 2]), { h: h0 });
 * deepStrictEqual(Array.from(await h.data()), [2]);
 * ```
 */
export function gruStep(
  weights: FusedWeights,
  x: Tensor2D,
  state: State,
  options: GruStepOptions = {},
): State {
  return tidy(() => ({ h: gruGates(weights, x, state, options).h }));
}

/**
 * The gru as data for the registry: gate blocks z, r, h, state `{ h }`, the
 * `resetAfter` flag and with it the extra bias `bhh` (`b_hh`). PyTorch's
 * `nn.GRU` is the reset-after variant (gates r, z, n; its `b_hn` is `bhh`);
 * ONNX's `GRU` runs both (`linear_before_reset`).
 *
 * @example resetAfter adds b_hh
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const spec = { kind: "gru", inputSize: 2, hiddenSize: 3, resetAfter: true };
 * deepStrictEqual(gruDefinition.parameters!(spec).map((p) => p.name), ["b_hh"]);
 * ```
 */
export const gruDefinition: CellDefinition = {
  kind: "gru",
  gates: ["z", "r", "h"],
  state: ["h"],
  flags: { resetAfter: true },
  parameters: (spec) =>
    spec.resetAfter ? [{ key: "bhh", name: "b_hh", blocks: 1, initial: 0 }] : [],
  step: (spec, weights, xw, state) => ({ h: gruRecurrentGates(weights, xw, state, spec).h }),
  torch: {
    blocks: [1, 0, 2], // z <- z (1), r <- r (0), h <- n (2)
    apart: { block: 2, key: "bhh" }, // b_hn stays inside the reset product
    refuse: (spec) =>
      spec.resetAfter ? undefined : "PyTorch's GRU applies the reset gate after the recurrent " +
        "matmul, so build the gru with resetAfter: true",
  },
  onnx: "GRU",
};

/**
 * Splits fused gru weights into `W_xz W_hz b_z`, `W_xr W_hr b_r`, `W_xh W_hh b_h`
 * (and `b_hh` when the weights have `bhh`). New tensors; the caller disposes.
 *
 * @example A reset-after GRU also has b_hh
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const fused = { Wx: tf.zeros([2, 3]) as tf.Tensor2D, Wh: tf.zeros([1, 3]) as tf.Tensor2D, b: tf.zeros([3]) as tf.Tensor1D, bhh: tf.zeros([1]) as tf.Tensor1D };
 * deepStrictEqual(Object.keys(gruWeightsToNamed(fused)).slice(-2), ["b_h", "b_hh"]);
 * ```
 */
export function gruWeightsToNamed(weights: FusedWeights): NamedWeights {
  const [inputSize, hiddenSize] = [weights.Wx.shape[0], weights.Wh.shape[0]];
  const resetAfter = weights.bhh !== undefined;
  const spec = { kind: "gru", inputSize, hiddenSize, resetAfter };
  return fusedToNamedWith(gruDefinition, spec, weights);
}

/**
 * Joins gru weights under the d2l names into fused storage (new tensors).
 * `b_hh` is expected exactly when `resetAfter`.
 * @throws {UsageError} for a missing or extra name or a wrong shape.
 *
 * @example Names to fused storage
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const named: Record<string, tf.Tensor> = {};
 * for (const g of ["z", "r", "h"]) Object.assign(named, { [`W_x${g}`]: tf.zeros([2, 1]), [`W_h${g}`]: tf.zeros([1, 1]), [`b_${g}`]: tf.zeros([1]) });
 * deepStrictEqual(gruWeightsFromNamed(named, { inputSize: 2, hiddenSize: 1 }).Wx.shape, [2, 3]);
 * ```
 */
export function gruWeightsFromNamed(
  named: NamedWeights,
  sizes: { inputSize: number; hiddenSize: number; resetAfter?: boolean },
): FusedWeights {
  return namedToFusedWith(gruDefinition, { kind: "gru", ...sizes }, named);
}
