/**
 * Fused vanilla RNN over a sequence: forward and analytical back-propagation
 * through time. `Wx` `[D, H]`, `Wh` `[H, H]`, `b` `[H]`.
 *
 * Equation (d2l 9.4): H' = φ(X W_xh + H W_hh + b_h), φ = tanh or relu.
 * For tanh the weights are doubled once per call so that
 * `tanh(a) = 2σ(2a) - 1` runs as a (vectorised) sigmoid.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor } from "../ops/tensors.ts";
import type { Nonlinearity } from "../cells/types.ts";
import {
  blockScale,
  consts,
  type Dims,
  fromSaved,
  inputGrad,
  isRows,
  kernelInputs,
  previousStates,
  projectInputs,
  rowsGrads,
  savedInputs,
  scaleColumns,
  stackSteps,
  stateGrads,
  tanhDeriv,
  tanhFromSigmoid,
  weightGrads,
} from "./_common.ts";
import { split2d } from "./_copy.ts";

/**
 * Forward pass. Inputs `[xs, Wx, Wh, b, h0]`.
 *
 * @returns the outputs `[T, B, H]`.
 *
 * @example Forward, then backward: one gradient per input
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const dims = { T: 2, B: 1, D: 1, H: 1 };
 * const inputs = [tf.ones([2, 1, 1]), tf.ones([1, 1]), tf.ones([1, 1]), tf.zeros([1]), tf.zeros([1, 1])];
 * let saved: tf.Tensor[] = [];
 * const value = rnnForward(inputs, dims, (t) => (saved = t), "tanh");
 * const grads = rnnBackward(tf.onesLike(value), saved, dims, "tanh");
 * deepStrictEqual(grads.map((g) => g.shape), inputs.map((x) => x.shape));
 * ```
 */
export function rnnForward(
  inputs: Tensor[],
  dims: Dims,
  save: (tensors: Tensor[]) => void,
  nonlinearity: Nonlinearity,
): Tensor {
  const [, Wx, Wh, b, h0] = inputs;
  const { T, B, H } = dims;
  const k = consts();
  const tanh = nonlinearity === "tanh";
  const scale = tanh ? blockScale([2], H) : undefined;
  const X = kernelInputs(inputs, dims);
  const XW = projectInputs(X, Wx, b, scale); // [T*B, H]
  const WhS = scaleColumns(Wh, scale);
  const XWs = split2d(XW, T, 0); // T x [B, H]
  let h = h0;
  const hs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const a = tf.add(tf.matMul(h, WhS), XWs[t]); // [B, H]
    h = tanh ? tanhFromSigmoid(tf.sigmoid(a), k) : tf.relu(a);
    hs.push(h);
  }
  const outputs = stackSteps(hs); // [T*B, H]
  save([...savedInputs(X), Wx, Wh, previousStates(h0, hs), outputs]);
  return tf.reshape(outputs, [T, B, H]);
}

/**
 * Backward pass of {@linkcode rnnForward}: gradients for `[xs, Wx, Wh, b, h0]`.
 *
 * @example A relu rnn
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const dims = { T: 2, B: 1, D: 1, H: 1 };
 * const inputs = [tf.ones([2, 1, 1]), tf.ones([1, 1]), tf.ones([1, 1]), tf.zeros([1]), tf.zeros([1, 1])];
 * let saved: tf.Tensor[] = [];
 * const value = rnnForward(inputs, dims, (t) => (saved = t), "relu");
 * const grads = rnnBackward(tf.onesLike(value), saved, dims, "relu");
 * deepStrictEqual(grads.map((g) => g.shape), inputs.map((x) => x.shape));
 * ```
 */
export function rnnBackward(
  dValue: Tensor,
  saved: Tensor[],
  dims: Dims,
  nonlinearity: Nonlinearity,
): Tensor[] {
  const [X, [Wx, Wh, Hprev, Hs]] = fromSaved(saved, dims);
  const { T, B, H } = dims;
  const k = consts();
  const dY = tf.reshape(dValue, [T * B, H]);
  // φ'(a) from the outputs, for all steps at once: 1 - h², or 1 where h > 0.
  const deriv = nonlinearity === "tanh" ? tanhDeriv(Hs, k) : tf.step(Hs);
  const WhT = tf.transpose(Wh);
  const dYs = split2d(dY, T, 0), derivs = split2d(deriv, T, 0);
  let dhRec: Tensor | null = null;
  const dZs: Tensor[] = new Array(T);
  for (let t = T - 1; t >= 0; t--) {
    const dh: Tensor = dhRec ? tf.add(dYs[t], dhRec) : dYs[t];
    const dZ: Tensor = tf.mul(dh, derivs[t]);
    dZs[t] = dZ;
    dhRec = tf.matMul(dZ, WhT);
  }
  const dZall = stackSteps(dZs); // [T*B, H]
  if (isRows(X)) {
    const { dTable, dWx, db } = rowsGrads(dZall, X, Wx);
    return [dTable, dWx, stateGrads(dZall, Hprev), db, dhRec as Tensor];
  }
  const { dWh, dWx, db } = weightGrads(dZall, Hprev, X);
  return [inputGrad(dZall, Wx, dims), dWx, dWh, db, dhRec as Tensor];
}
