/**
 * Fused LSTM over a sequence: forward and analytical back-propagation through
 * time. Gate blocks of `Wx` `[D, 4H]`, `Wh` `[H, 4H]`, `b` `[4H]`: i, f, o, c.
 *
 * Equations (d2l 10.1):
 *   I = σ(X W_xi + H W_hi + b_i), F = σ(...f), O = σ(...o), C~ = tanh(...c)
 *   C' = F ⊙ C + I ⊙ C~,  H' = O ⊙ tanh(C')
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor } from "../ops/tensors.ts";
import {
  blockScale,
  consts,
  type Dims,
  fastTanh,
  fromSaved,
  inputGrad,
  isRows,
  kernelInputs,
  previousStates,
  projectInputs,
  rowsGrads,
  savedInputs,
  scaleColumns,
  sigmoidDeriv,
  stackSteps,
  stateGrads,
  tanhDeriv,
  tanhFromSigmoid,
  weightGrads,
} from "./_common.ts";
import { block, concat2d, split2d } from "./_copy.ts";

/**
 * Forward pass. Inputs `[xs, Wx, Wh, b, h0, c0]`.
 *
 * @param cellStates also return every step's cell state (see the result).
 * @returns `[T+1, B, H]`: the outputs `h_0 .. h_{T-1}`, then `c_{T-1}`; with
 *   `cellStates`, `[2T, B, H]`: `h_0 .. h_{T-1}`, then `c_0 .. c_{T-1}`.
 *
 * @example Forward, then backward: one gradient per input, c0 included
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const dims = { T: 2, B: 1, D: 1, H: 1 };
 * const inputs = [tf.ones([2, 1, 1]), tf.ones([1, 4]), tf.ones([1, 4]), tf.zeros([4]), tf.zeros([1, 1]), tf.zeros([1, 1])];
 * let saved: tf.Tensor[] = [];
 * const value = lstmForward(inputs, dims, (t) => (saved = t));
 * const grads = lstmBackward(tf.onesLike(value), saved, dims);
 * deepStrictEqual(grads.map((g) => g.shape), inputs.map((x) => x.shape));
 * ```
 */
export function lstmForward(
  inputs: Tensor[],
  dims: Dims,
  save: (tensors: Tensor[]) => void,
  cellStates = false,
): Tensor {
  const [, Wx, Wh, b, h0, c0] = inputs;
  const { T, B, H } = dims;
  const k = consts();
  // The candidate block is doubled so one sigmoid gives all four gates.
  const scale = blockScale([1, 1, 1, 2], H);
  const X = kernelInputs(inputs, dims);
  const XW = projectInputs(X, Wx, b, scale); // [T*B, 4H]
  const WhS = scaleColumns(Wh, scale); // [H, 4H]
  const XWs = split2d(XW, T, 0); // T x [B, 4H]
  let h = h0;
  let c = c0;
  const hs: Tensor[] = [], cs: Tensor[] = [];
  const is: Tensor[] = [], fs: Tensor[] = [], os: Tensor[] = [];
  const gs: Tensor[] = [], tcs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const s = tf.sigmoid(tf.add(tf.matMul(h, WhS), XWs[t])); // [B, 4H]
    const [i, f, o, sc] = split2d(s, 4, 1); // [B, H] each
    const g = tanhFromSigmoid(sc, k); // C~
    c = tf.add(tf.mul(f, c), tf.mul(i, g));
    const tc = fastTanh(c, k);
    h = tf.mul(o, tc);
    hs.push(h), cs.push(c), is.push(i), fs.push(f), os.push(o), gs.push(g), tcs.push(tc);
  }
  save([
    ...savedInputs(X),
    Wx,
    Wh,
    previousStates(h0, hs),
    previousStates(c0, cs),
    stackSteps(is),
    stackSteps(fs),
    stackSteps(os),
    stackSteps(gs),
    stackSteps(tcs),
  ]);
  if (cellStates) return tf.reshape(stackSteps([...hs, ...cs]), [2 * T, B, H]);
  return tf.reshape(stackSteps([...hs, c]), [T + 1, B, H]);
}

/**
 * Backward pass: gradients for `[xs, Wx, Wh, b, h0, c0]` from the gradient of
 * the forward's result (`[T+1, B, H]`, or `[2T, B, H]` with `cellStates`,
 * whose `dC_t` blocks join the cell-state gradient at each step).
 *
 * @example With every step's cell state in the value
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const dims = { T: 2, B: 1, D: 1, H: 1 };
 * const inputs = [tf.ones([2, 1, 1]), tf.ones([1, 4]), tf.ones([1, 4]), tf.zeros([4]), tf.zeros([1, 1]), tf.zeros([1, 1])];
 * let saved: tf.Tensor[] = [];
 * const value = lstmForward(inputs, dims, (t) => (saved = t), true);
 * const grads = lstmBackward(tf.onesLike(value), saved, dims, true);
 * deepStrictEqual(grads.map((g) => g.shape), inputs.map((x) => x.shape));
 * ```
 */
export function lstmBackward(
  dValue: Tensor,
  saved: Tensor[],
  dims: Dims,
  cellStates = false,
): Tensor[] {
  const [X, [Wx, Wh, Hprev, Cprev, I, F, O, G, TC]] = fromSaved(saved, dims);
  const { T, B, H } = dims;
  const k = consts();
  const blocks = cellStates ? 2 * T : T + 1;
  const dV = tf.reshape(dValue, [blocks * B, H]);
  // Everything that does not depend on the recurrence, for all steps at once ([T*B, H] each):
  // dC += dH ⊙ P;  dZ = [dC ⊙ Mi, dC ⊙ Mf, dH ⊙ No, dC ⊙ Mc].
  const P = tf.mul(O, tanhDeriv(TC, k));
  const M = concat2d([
    tf.mul(G, sigmoidDeriv(I, k)),
    tf.mul(Cprev, sigmoidDeriv(F, k)),
    tf.mul(TC, sigmoidDeriv(O, k)),
    tf.mul(I, tanhDeriv(G, k)),
  ], 1); // [T*B, 4H]
  const WhT = tf.transpose(Wh); // [4H, H]
  // Per-step row blocks, each [B, ·]: one call per matrix instead of one per step.
  const dVs = split2d(dV, blocks, 0), Ps = split2d(P, T, 0), Ms = split2d(M, T, 0);
  const Fs = split2d(F, T, 0);
  // dC_{T-1} from upstream: the final state's block, or the last cell-state block.
  let dc = dVs[blocks - 1];
  let dhRec: Tensor | null = null; // dL/dh_t through h_{t+1}
  const dZs: Tensor[] = new Array(T);
  for (let t = T - 1; t >= 0; t--) {
    if (cellStates && t < T - 1) dc = tf.add(dc, dVs[T + t]); // + dC_t from upstream
    const dh: Tensor = dhRec ? tf.add(dVs[t], dhRec) : dVs[t];
    dc = tf.add(dc, tf.mul(dh, Ps[t]));
    const dZ: Tensor = tf.mul(concat2d([dc, dc, dh, dc], 1), Ms[t]); // [B, 4H]
    dZs[t] = dZ;
    dc = tf.mul(dc, Fs[t]); // to c_{t-1}
    dhRec = tf.matMul(dZ, WhT); // to h_{t-1}
  }
  const dZall = stackSteps(dZs); // [T*B, 4H]
  if (isRows(X)) {
    const { dTable, dWx, db } = rowsGrads(dZall, X, Wx);
    return [dTable, dWx, stateGrads(dZall, Hprev), db, dhRec as Tensor, dc];
  }
  const { dWh, dWx, db } = weightGrads(dZall, Hprev, X);
  return [inputGrad(dZall, Wx, dims), dWx, dWh, db, dhRec as Tensor, dc];
}

/**
 * Unpacks the forward's result into outputs, final state and, with
 * `cellStates` (a `[2T, B, H]` value), the cell states `[T, B, H]`.
 *
 * @example Outputs, final h and c
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const { outputs, c } = lstmUnpack(tf.tensor3d([[[1]], [[2]], [[9]]]), { T: 2, B: 1, D: 1, H: 1 });
 * deepStrictEqual([await outputs.array(), await c.array()], [[[[1]], [[2]]], [[9]]]);
 * ```
 */
export function lstmUnpack(
  value: Tensor,
  dims: Dims,
  cellStates = false,
): { outputs: Tensor; h: Tensor; c: Tensor; cells?: Tensor } {
  const { T, B, H } = dims;
  const v = tf.reshape(value, [(cellStates ? 2 * T : T + 1) * B, H]);
  const outputs = tf.reshape(block(v, 0, T * B), [T, B, H]);
  const h = block(v, (T - 1) * B, B);
  if (!cellStates) return { outputs, h, c: block(v, T * B, B) };
  return {
    outputs,
    h,
    c: block(v, (2 * T - 1) * B, B),
    cells: tf.reshape(block(v, T * B, T * B), [T, B, H]),
  };
}
