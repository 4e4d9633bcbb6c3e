/**
 * The layer-normalized LSTM (Ba, Kiros & Hinton 2016, "Layer Normalization",
 * §6 and appendix, the LN-LSTM):
 *
 *     (i, f, o, c̃) = LN(X_t W_x; g_x, β_x) + LN(H_{t-1} W_h; g_h, β_h) + b
 *     I_t = σ(i),  F_t = σ(f),  O_t = σ(o),  C̃_t = tanh(c̃)
 *     C_t = F_t ⊙ C_{t-1} + I_t ⊙ C̃_t
 *     H_t = O_t ⊙ tanh(LN(C_t; g_c, β_c))
 *
 * `LN(z; g, β) = g ⊙ (z − μ) / sqrt(σ² + ε) + β`, with μ and σ² the mean and
 * variance of each row's entries: over all `4H` gate pre-activations for the
 * two projections (normalized separately, as in the paper), over `H` for the
 * cell. ε = 1e-5. Gains start at 1, shifts at 0.
 *
 * Gate blocks as the lstm's: i, f, o, c. Weights under the d2l names are the
 * lstm's plus `g_x`, `beta_x`, `g_h`, `beta_h` (`[4H]`) and `g_c`, `beta_c`
 * (`[H]`). No PyTorch module or ONNX operator computes this cell.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor, Tensor2D } from "../ops/tensors.ts";
import { matMul } from "../ops/matmul.ts";
import { tidy } from "../ops/tidy.ts";
import { UsageError } from "../errors.ts";
import type { CellDefinition, FusedWeights, State } from "./definition.ts";

/**
 * The ε under every LayerNorm's square root.
 *
 * @example As PyTorch's LayerNorm default
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(LAYER_NORM_EPSILON, 1e-5);
 * ```
 */
export const LAYER_NORM_EPSILON = 1e-5;

/**
 * LayerNorm of each row of `z` `[N, W]`: `g ⊙ (z − μ) / sqrt(σ² + ε) + β`, with `g`, `β` `[W]`.
 *
 * @example A row normalized to mean 0 and variance 1 (almost: ε)
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * const y = layerNorm(tf.tensor2d([[1, 3]]), tf.ones([2]), tf.zeros([2]));
 * const [a, b] = await y.data();
 * ok(Math.abs(a + 1) < 1e-4 && Math.abs(b - 1) < 1e-4);
 * ```
 */
export function layerNorm(z: Tensor2D, gain: Tensor, shift: Tensor): Tensor2D {
  return tidy(() => {
    const centered = tf.sub(z, tf.mean(z, 1, true)); // [N, W]
    const variance = tf.mean(tf.square(centered), 1, true); // [N, 1]
    const normalized = tf.mul(centered, tf.rsqrt(tf.add(variance, LAYER_NORM_EPSILON)));
    return tf.add<Tensor2D>(tf.mul(normalized, gain), shift);
  });
}

/** The LayerNorm parameters as fused-record keys (and their d2l-style names). */
const LN = [
  { key: "gx", name: "g_x", blocks: 4, initial: 1 },
  { key: "betax", name: "beta_x", blocks: 4, initial: 0 },
  { key: "gh", name: "g_h", blocks: 4, initial: 1 },
  { key: "betah", name: "beta_h", blocks: 4, initial: 0 },
  { key: "gc", name: "g_c", blocks: 1, initial: 1 },
  { key: "betac", name: "beta_c", blocks: 1, initial: 0 },
] as const;

function param(weights: FusedWeights, key: (typeof LN)[number]["key"]): Tensor {
  const t = weights[key];
  if (t === undefined) throw new UsageError(`Cannot run an lnlstm step: weights.${key} is missing`);
  return t;
}

/**
 * The input half of every gate, `LN(x W_x; g_x, β_x) + b`, `[N, D]` to
 * `[N, 4H]`, row by row (so a whole sequence projects at once). Not tidied.
 */
function lnlstmProject(weights: FusedWeights, x: Tensor2D): Tensor2D {
  const normalized = layerNorm(
    matMul(x, weights.Wx),
    param(weights, "gx"),
    param(weights, "betax"),
  );
  return tf.add(normalized, weights.b);
}

/** The recurrent half, given the input half `xw` `[B, 4H]`. Not tidied. */
function lnlstmRecurrent(weights: FusedWeights, xw: Tensor2D, state: State): State {
  if (state.c === undefined) throw new UsageError("Cannot run an lnlstm step: state.c is missing");
  const H = state.h.shape[1];
  const hw = layerNorm(matMul(state.h, weights.Wh), param(weights, "gh"), param(weights, "betah"));
  const [ifo, cz] = tf.split(tf.add(xw, hw), [3 * H, H], 1); // [B, 3H], [B, H]
  const [i, f, o] = tf.split(tf.sigmoid(ifo), 3, 1) as Tensor2D[];
  const c = tf.add<Tensor2D>(tf.mul(f, state.c), tf.mul(i, tf.tanh(cz)));
  const cNorm = layerNorm(c, param(weights, "gc"), param(weights, "betac"));
  return { h: tf.mul<Tensor2D>(o, tf.tanh(cNorm)), c };
}

/**
 * One lnlstm step (equations in the module doc).
 *
 * @param weights fused `Wx` `[D, 4H]`, `Wh` `[H, 4H]`, `b` `[4H]` (blocks i, f, o, c) and the
 *   LayerNorm gains and shifts `gx`, `betax`, `gh`, `betah` `[4H]`, `gc`, `betac` `[H]`.
 * @param x the input `[B, D]`.
 * @param state `{ h, c }`, each `[B, H]`.
 * @returns `{ h, c }`, new tensors the caller disposes.
 *
 * @example Zero kernels: every gate is 1/2 and C̃ = 0, so C_t = C_{t-1} / 2
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const ones = tf.ones([4]) as tf.Tensor1D, zeros = tf.zeros([4]) as tf.Tensor1D;
 * const weights = {
 *   Wx: tf.zeros([2, 4]) as tf.Tensor2D, Wh: tf.zeros([1, 4]) as tf.Tensor2D, b: zeros,
 *   gx: ones, betax: zeros, gh: ones, betah: zeros, gc: tf.ones([1]), betac: tf.zeros([1]),
 * };
 * const state = { h: tf.zeros([1, 1]) as tf.Tensor2D, c: tf.tensor2d([[6]]) };
 * const { c } = lnlstmStep(weights, tf.ones([1, 2]) as tf.Tensor2D, state);
 * deepStrictEqual(Array.from(await c!.data()), [3]);
 * ```
 */
export function lnlstmStep(weights: FusedWeights, x: Tensor2D, state: State): State {
  return tidy(() => lnlstmRecurrent(weights, lnlstmProject(weights, x), state));
}

/**
 * The lnlstm as data for the registry: the lstm's gates and state, six
 * LayerNorm parameters, its own input projection; no PyTorch or ONNX layout.
 *
 * @example Six LayerNorm parameters
 * ```ts
 * import { strictEqual } from "node:assert";
 * const spec = { kind: "lnlstm", inputSize: 2, hiddenSize: 3 };
 * strictEqual(lnlstmDefinition.parameters!(spec).length, 6);
 * ```
 */
export const lnlstmDefinition: CellDefinition = {
  kind: "lnlstm",
  gates: ["i", "f", "o", "c"],
  state: ["h", "c"],
  parameters: () => LN,
  project: (_spec, weights, x) => lnlstmProject(weights, x),
  step: (_spec, weights, xw, state) => lnlstmRecurrent(weights, xw, state),
};
