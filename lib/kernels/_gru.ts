/**
 * Fused GRU over a sequence: forward and analytical back-propagation through
 * time, both published variants. Gate blocks of `Wx` `[D, 3H]`, `Wh` `[H, 3H]`,
 * `b` `[3H]`: z (update), r (reset), h (candidate).
 *
 * Equations (d2l 10.2), with Z, R = σ(X W_x{z,r} + H W_h{z,r} + b_{z,r}):
 *   reset before (d2l):  H~ = tanh(X W_xh + (R ⊙ H) W_hh + b_h)
 *   reset after (cuDNN): H~ = tanh(X W_xh + b_h + R ⊙ (H W_hh + b_hh))
 *   H' = Z ⊙ H + (1 - Z) ⊙ H~
 *
 * The candidate's pre-activation is doubled (weights scaled once per call) so
 * that `tanh(a) = 2σ(2a) - 1` runs as a sigmoid.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor } from "../ops/tensors.ts";
import { expandTo } from "../ops/broadcast.ts";
import {
  blockScale,
  consts,
  type Dims,
  fromSaved,
  inputGrad,
  isRows,
  type KernelInputs,
  kernelInputs,
  previousStates,
  projectInputs,
  rowsGrads,
  savedInputs,
  sigmoidDeriv,
  stackSteps,
  stateGrads,
  tanhDeriv,
  tanhFromSigmoid,
  transposedGrads,
  weightGrads,
} from "./_common.ts";
import { block, concat2d, split2d } from "./_copy.ts";

/** The GRU update `Z ⊙ H + (1 - Z) ⊙ H~`, written as `H~ + Z ⊙ (H - H~)`. */
function update(z: Tensor, hPrev: Tensor, hc: Tensor): Tensor {
  return tf.add(hc, tf.mul(z, tf.sub(hPrev, hc)));
}

/** Every step's tensors of a GRU forward pass, each list T x `[B, H]`. */
interface GruSteps {
  hs: Tensor[];
  zs: Tensor[];
  rs: Tensor[];
  hcs: Tensor[];
  /** The variant's own: `R ⊙ H` (reset before) or `2 (H W_hh + b_hh)` (reset after). */
  last: Tensor[];
}

/**
 * Saves what both GRU backward passes read (`X`, `Wx`, `Wh`, `H_{t-1}`, Z, R,
 * H~ and the variant's own steps) and returns the outputs `[T, B, H]`.
 */
function saveSteps(
  save: (tensors: Tensor[]) => void,
  dims: Dims,
  [X, Wx, Wh, h0]: [KernelInputs, Tensor, Tensor, Tensor],
  steps: GruSteps,
): Tensor {
  const { hs, zs, rs, hcs, last } = steps;
  save([
    ...savedInputs(X),
    Wx,
    Wh,
    previousStates(h0, hs),
    stackSteps(zs),
    stackSteps(rs),
    stackSteps(hcs),
    stackSteps(last),
  ]);
  return tf.reshape(stackSteps(hs), [dims.T, dims.B, dims.H]);
}

/**
 * Forward pass, reset gate before the recurrent matmul (d2l). Inputs
 * `[xs, Wx, Wh, b, h0]`.
 *
 * @returns the outputs `[T, B, H]`.
 *
 * @example Forward, then backward: one gradient per input
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const dims = { T: 2, B: 1, D: 1, H: 1 };
 * const inputs = [tf.ones([2, 1, 1]), tf.ones([1, 3]), tf.ones([1, 3]), tf.zeros([3]), tf.zeros([1, 1])];
 * let saved: tf.Tensor[] = [];
 * const value = gruForward(inputs, dims, (t) => (saved = t));
 * const grads = gruBackward(tf.onesLike(value), saved, dims);
 * deepStrictEqual(grads.map((g) => g.shape), inputs.map((x) => x.shape));
 * ```
 */
export function gruForward(
  inputs: Tensor[],
  dims: Dims,
  save: (tensors: Tensor[]) => void,
): Tensor {
  const [, Wx, Wh, b, h0] = inputs;
  const { T, H } = dims;
  const k = consts();
  const X = kernelInputs(inputs, dims);
  const XW = projectInputs(X, Wx, b, blockScale([1, 1, 2], H)); // [T*B, 3H]
  const [XWzr, XWh] = split2d(XW, [2 * H, H], 1); // [T*B, 2H], [T*B, H]
  const [Whzr, WhhRaw] = split2d(Wh, [2 * H, H], 1); // [H, 2H], [H, H]
  const Whh = tf.mul(WhhRaw, k.two); // doubled
  const XWzrs = split2d(XWzr, T, 0), XWhs = split2d(XWh, T, 0); // T x [B, 2H], T x [B, H]
  let h = h0;
  const hs: Tensor[] = [], zs: Tensor[] = [], rs: Tensor[] = [];
  const hcs: Tensor[] = [], rhs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const zr = tf.sigmoid(tf.add(tf.matMul(h, Whzr), XWzrs[t])); // [B, 2H]
    const [z, r] = split2d(zr, 2, 1);
    const rh = tf.mul(r, h);
    const hc = tanhFromSigmoid(tf.sigmoid(tf.add(tf.matMul(rh, Whh), XWhs[t])), k);
    h = update(z, h, hc);
    hs.push(h), zs.push(z), rs.push(r), hcs.push(hc), rhs.push(rh);
  }
  return saveSteps(save, dims, [X, Wx, Wh, h0], { hs, zs, rs, hcs, last: rhs });
}

/**
 * Backward pass of {@linkcode gruForward}: gradients for `[xs, Wx, Wh, b, h0]`.
 *
 * @example Gradients match the inputs' shapes
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const dims = { T: 2, B: 1, D: 1, H: 1 };
 * const inputs = [tf.ones([2, 1, 1]), tf.ones([1, 3]), tf.ones([1, 3]), tf.zeros([3]), tf.zeros([1, 1])];
 * let saved: tf.Tensor[] = [];
 * const value = gruForward(inputs, dims, (t) => (saved = t));
 * const grads = gruBackward(tf.onesLike(value), saved, dims);
 * deepStrictEqual(grads.map((g) => g.shape), inputs.map((x) => x.shape));
 * ```
 */
export function gruBackward(dValue: Tensor, saved: Tensor[], dims: Dims): Tensor[] {
  const [X, [Wx, Wh, Hprev, Z, R, HC, RH]] = fromSaved(saved, dims);
  const { T, B, H } = dims;
  const k = consts();
  const dY = tf.reshape(dValue, [T * B, H]);
  // Step-independent factors [T*B, H]: dZh = dH ⊙ Q1; [dZz, dZr] = [dH, dRH] ⊙ [Qz, Qr].
  const Q1 = tf.mul(tf.sub(k.one, Z), tanhDeriv(HC, k));
  const Qzr = concat2d([
    tf.mul(tf.sub(Hprev, HC), sigmoidDeriv(Z, k)),
    tf.mul(Hprev, sigmoidDeriv(R, k)),
  ], 1);
  const [WhzrT, WhhT] = split2d(Wh, [2 * H, H], 1).map((w) => tf.transpose(w)); // [2H, H], [H, H]
  const dYs = split2d(dY, T, 0), Q1s = split2d(Q1, T, 0), Qzrs = split2d(Qzr, T, 0);
  const Zs = split2d(Z, T, 0), Rs = split2d(R, T, 0);
  let dhRec: Tensor | null = null;
  const dZzrs: Tensor[] = new Array(T), dZhs: Tensor[] = new Array(T);
  for (let t = T - 1; t >= 0; t--) {
    const dh: Tensor = dhRec ? tf.add(dYs[t], dhRec) : dYs[t];
    const dZh = tf.mul(dh, Q1s[t]); // candidate pre-activation
    const dRH = tf.matMul(dZh, WhhT); // d(R ⊙ H)
    const dZzr = tf.mul(concat2d([dh, dRH], 1), Qzrs[t]); // [B, 2H]
    dZzrs[t] = dZzr, dZhs[t] = dZh;
    const direct: Tensor = tf.add(tf.mul(dh, Zs[t]), tf.mul(dRH, Rs[t]));
    dhRec = tf.add(direct, tf.matMul(dZzr, WhzrT));
  }
  const dZzr = stackSteps(dZzrs), dZh = stackSteps(dZhs); // [T*B, 2H], [T*B, H]
  if (isRows(X)) {
    const { dTable, dWx, db } = rowsGrads(concat2d([dZzr, dZh], 1), X, Wx);
    const dWh = concat2d([stateGrads(dZzr, Hprev), stateGrads(dZh, RH)], 1);
    return [dTable, dWx, dWh, db, dhRec as Tensor];
  }
  const zr = weightGrads(dZzr, Hprev, X), hh = weightGrads(dZh, RH, X);
  const dX = inputGrad(concat2d([dZzr, dZh], 1), Wx, dims);
  return [
    dX,
    concat2d([zr.dWx, hh.dWx], 1),
    concat2d([zr.dWh, hh.dWh], 1),
    tf.concat([zr.db, hh.db]),
    dhRec as Tensor,
  ];
}

/**
 * Forward pass, reset gate after the recurrent matmul (cuDNN/PyTorch). Inputs
 * `[xs, Wx, Wh, b, h0, bhh]`.
 *
 * @returns the outputs `[T, B, H]`.
 *
 * @example Reset after: bhh is the last input
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const dims = { T: 2, B: 1, D: 1, H: 1 };
 * const inputs = [tf.ones([2, 1, 1]), tf.ones([1, 3]), tf.ones([1, 3]), tf.zeros([3]), tf.zeros([1, 1]), tf.zeros([1])];
 * let saved: tf.Tensor[] = [];
 * const value = gruAfterForward(inputs, dims, (t) => (saved = t));
 * const grads = gruAfterBackward(tf.onesLike(value), saved, dims);
 * deepStrictEqual(grads.map((g) => g.shape), inputs.map((x) => x.shape));
 * ```
 */
export function gruAfterForward(
  inputs: Tensor[],
  dims: Dims,
  save: (tensors: Tensor[]) => void,
): Tensor {
  const [, Wx, Wh, b, h0, bhh] = inputs;
  const { T, B, H } = dims;
  const k = consts();
  const scale = blockScale([1, 1, 2], H);
  const X = kernelInputs(inputs, dims);
  const XW = projectInputs(X, Wx, b, scale); // [T*B, 3H]
  const [XWzr, XWh] = split2d(XW, [2 * H, H], 1); // [T*B, 2H], [T*B, H] (doubled)
  // What the recurrent product is added to: X W_x{z,r} + b_{z,r} and 2 b_hh.
  const bhh2 = expandTo(tf.mul(bhh, k.two), [T * B, H]);
  const addend = concat2d([XWzr, bhh2], 1); // [T*B, 3H]
  const WhS = tf.mul(Wh, scale); // [H, 3H]
  const addends = split2d(addend, T, 0), XWhs = split2d(XWh, T, 0); // T x [B, 3H], T x [B, H]
  let h = h0;
  const hs: Tensor[] = [], zs: Tensor[] = [], rs: Tensor[] = [];
  const hcs: Tensor[] = [], mhs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const u = tf.add(tf.matMul(h, WhS), addends[t]); // [B, 3H]
    const [uzr, mh] = split2d(u, [2 * H, H], 1); // mh = 2 (H W_hh + b_hh)
    const [z, r] = split2d(tf.sigmoid(uzr), 2, 1);
    const hc = tanhFromSigmoid(tf.sigmoid(tf.add(XWhs[t], tf.mul(r, mh))), k);
    h = update(z, h, hc);
    hs.push(h), zs.push(z), rs.push(r), hcs.push(hc), mhs.push(mh);
  }
  return saveSteps(save, dims, [X, Wx, Wh, h0], { hs, zs, rs, hcs, last: mhs });
}

/**
 * Backward pass of {@linkcode gruAfterForward}: gradients for `[xs, Wx, Wh, b, h0, bhh]`.
 *
 * @example A gradient for bhh too
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const dims = { T: 2, B: 1, D: 1, H: 1 };
 * const inputs = [tf.ones([2, 1, 1]), tf.ones([1, 3]), tf.ones([1, 3]), tf.zeros([3]), tf.zeros([1, 1]), tf.zeros([1])];
 * let saved: tf.Tensor[] = [];
 * const value = gruAfterForward(inputs, dims, (t) => (saved = t));
 * const grads = gruAfterBackward(tf.onesLike(value), saved, dims);
 * deepStrictEqual(grads.map((g) => g.shape), inputs.map((x) => x.shape));
 * ```
 */
export function gruAfterBackward(dValue: Tensor, saved: Tensor[], dims: Dims): Tensor[] {
  const [X, [Wx, Wh, Hprev, Z, R, HC, MH2]] = fromSaved(saved, dims);
  const { T, B, D, H } = dims;
  const k = consts();
  const dY = tf.reshape(dValue, [T * B, H]);
  // Step-independent factors [T*B, H]; every pre-activation gradient is dH times one of them:
  // candidate Q1, update Qz, reset Qr, recurrent candidate product Qm.
  const Q1 = tf.mul(tf.sub(k.one, Z), tanhDeriv(HC, k));
  const Qz = tf.mul(tf.sub(Hprev, HC), sigmoidDeriv(Z, k));
  const Qr = tf.mul(tf.mul(Q1, tf.div(MH2, k.two)), sigmoidDeriv(R, k));
  const Qm = tf.mul(Q1, R);
  const Qrec = concat2d([Qz, Qr, Qm], 1); // [T*B, 3H]
  const WhT = tf.transpose(Wh); // [3H, H]
  const dYs = split2d(dY, T, 0), Qrecs = split2d(Qrec, T, 0), Zs = split2d(Z, T, 0);
  let dhRec: Tensor | null = null;
  const dhs: Tensor[] = new Array(T), dZs: Tensor[] = new Array(T);
  for (let t = T - 1; t >= 0; t--) {
    const dh: Tensor = dhRec ? tf.add(dYs[t], dhRec) : dYs[t];
    // Every pre-activation gradient is dH times a step-independent factor: one broadcast product.
    const dZ = tf.reshape(tf.mul(tf.reshape(dh, [B, 1, H]), tf.reshape(Qrecs[t], [B, 3, H])), [
      B,
      3 * H,
    ]);
    dhs[t] = dh, dZs[t] = dZ;
    dhRec = tf.add(tf.mul(dh, Zs[t]), tf.matMul(dZ, WhT));
  }
  const dZrec = stackSteps(dZs); // [T*B, 3H]: z, r, and the candidate's recurrent product
  const dZx = concat2d([block(dZrec, 0, T * B, 0, 2 * H), tf.mul(stackSteps(dhs), Q1)], 1);
  // dWx, db from dZx; dWh and db_hh (the last block's sum) from dZrec.
  const Prec = transposedGrads(dZrec, [Hprev]); // [3H, H+1]
  const dWh = tf.transpose(block(Prec, 0, 3 * H, 0, H));
  const dbhh = tf.reshape(block(Prec, 2 * H, H, H, 1), [H]);
  if (isRows(X)) {
    const { dTable, dWx, db } = rowsGrads(dZx, X, Wx);
    return [dTable, dWx, dWh, db, dhRec as Tensor, dbhh];
  }
  const Px = transposedGrads(dZx, [X]); // [3H, D+1]
  return [
    inputGrad(dZx, Wx, dims),
    tf.transpose(block(Px, 0, 3 * H, 0, D)),
    dWh,
    tf.reshape(block(Px, 0, 3 * H, D, 1), [3 * H]),
    dhRec as Tensor,
    dbhh,
  ];
}
