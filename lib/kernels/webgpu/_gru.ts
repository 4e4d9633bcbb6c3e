/**
 * GRU over a sequence on WebGPU, both variants of `../_gru.ts` (gate blocks
 * z, r, h; same equations):
 *
 * - reset after (cuDNN/PyTorch), `H~ = tanh(X W_xh + b_h + R ⊙ (H W_hh + b_hh))`:
 *   one dispatch per step forward (all three recurrent products of a unit,
 *   the gates and the update) and one per step backward.
 * - reset before (d2l), `H~ = tanh(X W_xh + (R ⊙ H) W_hh + b_h)`: the
 *   candidate's recurrent matmul reads `R ⊙ H` of every unit of the same
 *   step, so two dispatches per step each way (gates z, r and `R ⊙ H`, then
 *   the candidate and the update; backward, `dZh` then `dZh W_hh^T`).
 *
 * Each invocation owns `V` adjacent units of one batch row: `V = 4` (vec4
 * loads of the weights, the projection and the saved planes) when
 * `H % 4 == 0`, else `V = 1`; the WGSL is the same text either way.
 *
 * Forward buffer `seq` (blocks of `B*H`, unit `(b, j)` at `b*H + j`): blocks
 * `0 .. T` are `h0, h_0 .. h_{T-1}` (blocks `1 .. T` the outputs, `0 .. T-1`
 * the states each step started from), then 4 planes of `T` blocks: `Z`, `R`,
 * `H~`, and `M = H W_hh + b_hh` (reset after) or `R ⊙ H` (reset before).
 *
 * Backward buffer, rows step-major (`N = T*B`): `dZ`, the pre-activation
 * gradients of the recurrent products, `[N, 3H]` (blocks z, r, m; `m` is
 * `H W_hh + b_hh`) reset after, `[N, 2H]` (z, r) reset before; then `dZh`
 * `[N, H]` (the candidate's input part, or its whole pre-activation); then
 * the carried `dH ⊙ Z` `[B*H]` and `dh0` `[B*H]`.
 *
 * @module
 */
import { tf } from "../../tf.ts";
import type { Tensor, Tensor1D, Tensor2D, Tensor3D } from "../../ops/tensors.ts";
import type { Dims } from "../_common.ts";
import {
  allocate,
  dispatch,
  STEP_UNIFORMS,
  StepProgram,
  toTensor,
  type WebGpuBackendLike,
} from "./_program.ts";

const UNIFORMS = STEP_UNIFORMS;

/** Units per invocation. */
function width(H: number): number {
  return H % 4 === 0 ? 4 : 1;
}

/** `VT` (the per-invocation value type), vector sigmoid/tanh, loads and stores of `V` floats. */
function helpers(V: number, loaders: string[]): string {
  const VT = V === 4 ? "vec4<f32>" : "f32";
  const load = (name: string) =>
    V === 4
      ? `fn ld_${name}(at : i32) -> VT {
           return vec4<f32>(${name}[at], ${name}[at + 1], ${name}[at + 2], ${name}[at + 3]);
         }`
      : `fn ld_${name}(at : i32) -> VT { return ${name}[at]; }`;
  const store = V === 4
    ? `fn st(at : i32, v : VT) {
         result[at] = v.x; result[at + 1] = v.y; result[at + 2] = v.z; result[at + 3] = v.w;
       }`
    : `fn st(at : i32, v : VT) { result[at] = v; }`;
  return `
    alias VT = ${VT};
    fn sigv(x : VT) -> VT { return 1.0 / (1.0 + exp(-x)); }
    fn tanhv(x : VT) -> VT { return 2.0 / (1.0 + exp(-2.0 * x)) - 1.0; }
    ${["result", ...loaders].map(load).join("\n")}
    ${store}`;
}

/** Uniforms and the invocation's units: `j` the first unit, `u` its offset in a `[B, H]` block. */
function prologue(V: number): string {
  return `
  let t = uniforms.t; let B = uniforms.nb; let H = uniforms.nh; let T = uniforms.nt;
  let V = ${V};
  let BH = B * H;
  let HV = H / V;
  if (index >= B * HV) { return; }
  let b = index / HV;
  let j = V * (index - b * HV);
  let u = b * H + j;
  let P = T * BH; // one plane of the forward buffer
  let g = (T + 1) * BH + t * BH + u; // this step's units in the first plane
`;
}

/**
 * WGSL: adds the previous state times `wh` to a step's gate accumulators
 * (`accumulate` reads `hv`, the state at row `k`, and `w`, the vector index of
 * its `wh` row at the invocation's first unit) and sets `hp`, the previous
 * state of the invocation's units: `hinit` at the first step (written as the
 * result's step 0, which the backward pass reads), else the result's step `t`.
 * Both variants' forward programs open this way.
 */
function previousState(accumulate: string): string {
  const products = (source: string, row: string) => `
    let row = ${row};
    for (var k = 0; k < H; k++) {
      let hv = ${source}[row + k];
      let w = (k * G + j) / V;
      ${accumulate}
    }`;
  return `var hp : VT;
  if (t == 0) {${products("hinit", "b * H")}
    hp = ld_hinit(u);
    st(u, hp);
  } else {${products("result", "t * BH + b * H")}
    hp = ld_result(t * BH + u);
  }`;
}

// ---------------------------------------------------------------- reset after

/** Inputs `xw` `[N, 3H]`, `wh` `[H, 3H]`, `bhh` `[H]`, `hinit` `[B, H]`. */
const AFTER_FORWARD = `
  let G = 3 * H;
  let x = ((t * B + b) * G + j) / V;
  var az = xw[x]; var ar = xw[x + HV]; let ah = xw[x + 2 * HV];
  var am = bhh[j / V];
  ${previousState("az += hv * wh[w]; ar += hv * wh[w + HV]; am += hv * wh[w + 2 * HV];")}
  let z = sigv(az); let r = sigv(ar);
  let hc = tanhv(ah + r * am);
  st((t + 1) * BH + u, hc + z * (hp - hc));
  st(g, z); st(g + P, r); st(g + 2 * P, hc); st(g + 3 * P, am);
`;

/** Inputs `dv` `[T, B, H]`, `seq`, `wht` `[3H, H]`. */
const AFTER_BACKWARD = `
  let N = T * B;
  let G = 3 * H;
  let dirAt = N * 4 * H + u;
  if (t < 0) {
    // dh0 = dH_0 ⊙ Z_0 + dZrec_0 Wh^T
    var acc = ld_result(dirAt);
    let row = b * G;
    for (var k = 0; k < G; k++) { acc += result[row + k] * wht[(k * H + j) / V]; }
    st(dirAt + BH, acc);
    return;
  }
  var dh = dv[(t * BH + u) / V];
  if (t < T - 1) {
    dh += ld_result(dirAt);
    let row = ((t + 1) * B + b) * G;
    for (var k = 0; k < G; k++) { dh += result[row + k] * wht[(k * H + j) / V]; }
  }
  let gv = g / V; let PV = P / V;
  let z = seq[gv]; let r = seq[gv + PV]; let hc = seq[gv + 2 * PV]; let m = seq[gv + 3 * PV];
  let hp = seq[(t * BH + u) / V];
  let q1 = dh * (1.0 - z) * (1.0 - hc * hc);
  let zrow = (t * B + b) * G + j;
  st(zrow, dh * (hp - hc) * z * (1.0 - z));
  st(zrow + H, q1 * m * r * (1.0 - r));
  st(zrow + 2 * H, q1 * r);
  st(N * G + (t * B + b) * H + j, q1);
  st(dirAt, dh * z);
`;

// --------------------------------------------------------------- reset before

/** Step phase 1: `Z`, `R`, `R ⊙ H`. Inputs `xw` `[N, 3H]`, `wh` `[H, 3H]`, `hinit`. */
const BEFORE_FORWARD_GATES = `
  let G = 3 * H;
  let x = ((t * B + b) * G + j) / V;
  var az = xw[x]; var ar = xw[x + HV];
  ${previousState("az += hv * wh[w]; ar += hv * wh[w + HV];")}
  let r = sigv(ar);
  st(g, sigv(az)); st(g + P, r); st(g + 3 * P, r * hp);
`;

/** Step phase 2: `H~ = tanh(X W_xh + b_h + (R ⊙ H) W_hh)` and the update. Same inputs. */
const BEFORE_FORWARD_UPDATE = `
  if (T < 0) { result[0] = hinit[0]; } // never: keeps hinit bound (auto layouts drop unused inputs)
  let G = 3 * H;
  var ah = xw[((t * B + b) * G + 2 * H + j) / V];
  let row = (T + 1 + 3 * T + t) * BH + b * H; // R ⊙ H of this step, batch row b
  for (var k = 0; k < H; k++) { ah += result[row + k] * wh[(k * G + 2 * H + j) / V]; }
  let hc = tanhv(ah);
  let z = ld_result(g);
  let hp = ld_result(t * BH + u);
  st((t + 1) * BH + u, hc + z * (hp - hc));
  st(g + 2 * P, hc);
`;

/**
 * Step phase 1: `dH` (output gradient, carried `dH ⊙ Z`, `dZzr_{t+1} Whzr^T`),
 * `dZz`, `dZh`; at `t = -1`, `dh0`. Inputs `dv`, `seq`, `wht` `[3H, H]`.
 */
const BEFORE_BACKWARD_CANDIDATE = `
  let N = T * B;
  let hAt = N * 2 * H; // dZh plane
  let dirAt = N * 3 * H + u;
  if (t < 0) {
    var acc = ld_result(dirAt);
    let row = b * 2 * H;
    for (var k = 0; k < 2 * H; k++) { acc += result[row + k] * wht[(k * H + j) / V]; }
    st(dirAt + BH, acc);
    return;
  }
  var dh = dv[(t * BH + u) / V];
  if (t < T - 1) {
    dh += ld_result(dirAt);
    let row = ((t + 1) * B + b) * 2 * H;
    for (var k = 0; k < 2 * H; k++) { dh += result[row + k] * wht[(k * H + j) / V]; }
  }
  let gv = g / V; let PV = P / V;
  let z = seq[gv]; let hc = seq[gv + 2 * PV];
  let hp = seq[(t * BH + u) / V];
  st((t * B + b) * 2 * H + j, dh * (hp - hc) * z * (1.0 - z));
  st(hAt + (t * B + b) * H + j, dh * (1.0 - z) * (1.0 - hc * hc));
  st(dirAt, dh * z);
`;

/** Step phase 2: `d(R ⊙ H) = dZh W_hh^T`, then `dZr` and the carried term. Same inputs. */
const BEFORE_BACKWARD_RESET = `
  if (T < 0) { st(0, VT(dv[0])); } // never: keeps dv bound (auto layouts drop unused inputs)
  let N = T * B;
  let dirAt = N * 3 * H + u;
  var drh = VT(0.0);
  let row = N * 2 * H + (t * B + b) * H;
  for (var k = 0; k < H; k++) { drh += result[row + k] * wht[((2 * H + k) * H + j) / V]; }
  let gv = g / V; let PV = P / V;
  let r = seq[gv + PV];
  let hp = seq[(t * BH + u) / V];
  st((t * B + b) * 2 * H + H + j, drh * hp * r * (1.0 - r));
  st(dirAt, ld_result(dirAt) + drh * r);
`;

function program(
  key: string,
  inputs: string[],
  vectorInputs: string[],
  outputSize: number,
  dims: Dims,
  body: string,
): StepProgram {
  const V = width(dims.H);
  const loaders = inputs.filter((n) => !vectorInputs.includes(n) && n === "hinit");
  return new StepProgram({
    key: `${key}${V}`,
    inputs,
    components: V === 4 ? inputs.map((n) => (vectorInputs.includes(n) ? 4 : 1)) : undefined,
    uniforms: UNIFORMS,
    outputSize,
    count: dims.B * dims.H / V,
    helpers: helpers(V, loaders),
    body: prologue(V) + body,
  });
}

/**
 * Runs the recurrence. `XW` `[T*B, 3H]` is the input projection plus `b`;
 * `bhh` `[H]` is used with `resetAfter` only (pass undefined otherwise).
 *
 * @returns the forward buffer (layout in the module doc), a new tensor.
 *
 * @example Forward and backward on webgpu
 * ```ts
 * import { tf } from "../../tf.ts";
 * import { webgpuBackend } from "./_program.ts";
 * const backend = webgpuBackend(); // null off webgpu
 * if (backend) {
 *   const dims = { T: 2, B: 1, D: 1, H: 2 };
 *   const XW = tf.ones([2, 6]), Wh = tf.zeros([2, 6]), h0 = tf.zeros([1, 2]);
 *   const bhh = tf.zeros([2]);
 *   const seq = gruForwardSteps(backend, true, XW, Wh, bhh, h0, dims);
 *   const { value, Hprev, RH } = gruViews(seq, dims);
 *   const back = gruBackwardSteps(backend, true, tf.onesLike(value), seq, Wh, dims);
 *   console.log(await back.dZ.data());
 *   tf.dispose([XW, Wh, h0, bhh, seq, value, Hprev, RH, back.dZ, back.dZh, back.dh0]);
 * }
 * ```
 */
export function gruForwardSteps(
  backend: WebGpuBackendLike,
  resetAfter: boolean,
  XW: Tensor,
  Wh: Tensor,
  bhh: Tensor | undefined,
  h0: Tensor,
  dims: Dims,
): Tensor1D {
  const { T, B, H } = dims;
  const seq = toTensor(allocate(backend, (5 * T + 1) * B * H));
  const inputs = resetAfter ? ["xw", "wh", "bhh", "hinit"] : ["xw", "wh", "hinit"];
  const tensors = resetAfter ? [XW, Wh, bhh!, h0] : [XW, Wh, h0];
  const vec = ["xw", "wh", "bhh"];
  const bodies = resetAfter
    ? [["rnnDenoGruAfterForward", AFTER_FORWARD]]
    : [["rnnDenoGruBeforeGates", BEFORE_FORWARD_GATES], [
      "rnnDenoGruBeforeUpdate",
      BEFORE_FORWARD_UPDATE,
    ]];
  for (let t = 0; t < T; t++) {
    for (const [key, body] of bodies) {
      const p = program(key, inputs, vec, seq.size, dims, body);
      dispatch(backend, p, tensors, [t, B, H, T], seq);
    }
  }
  return seq;
}

/**
 * From `seq`: the outputs `[T, B, H]`, `Hprev` `[T*B, H]` and (reset before)
 * `R ⊙ H` `[T*B, H]`, each a new tensor.
 *
 * @example See gruForwardSteps
 * ```ts
 * import { tf } from "../../tf.ts";
 * const seq = tf.zeros([11 * 2]); // T = 2, B*H = 2
 * const { value } = gruViews(seq, { T: 2, B: 1, D: 1, H: 2 });
 * console.log(value.shape); // [2, 1, 2]
 * ```
 */
export function gruViews(
  seq: Tensor,
  dims: Dims,
): { value: Tensor3D; Hprev: Tensor2D; RH: Tensor2D } {
  const { T, B, H } = dims;
  const BH = B * H;
  return {
    value: tf.reshape(tf.slice(seq, [BH], [T * BH]), [T, B, H]) as Tensor3D,
    Hprev: tf.reshape(tf.slice(seq, [0], [T * BH]), [T * B, H]) as Tensor2D,
    RH: tf.reshape(tf.slice(seq, [(4 * T + 1) * BH], [T * BH]), [T * B, H]) as Tensor2D,
  };
}

/**
 * Back-propagation through the recurrence.
 *
 * @param dValue the gradient of the outputs `[T, B, H]`.
 * @returns `dZ`, the gradients of the recurrent pre-activations, `[T*B, 3H]`
 *   (blocks z, r, m) reset after, `[T*B, 2H]` (z, r) reset before; `dZh`
 *   `[T*B, H]`, of the candidate's input part (after) or whole pre-activation
 *   (before); and `dh0` `[B, H]`. New tensors.
 *
 * @example See gruForwardSteps
 * ```ts
 * import { tf } from "../../tf.ts";
 * import { webgpuBackend } from "./_program.ts";
 * const backend = webgpuBackend(); // null off webgpu
 * if (backend) {
 *   const dims = { T: 1, B: 1, D: 1, H: 4 };
 *   const XW = tf.ones([1, 12]), Wh = tf.zeros([4, 12]), h0 = tf.zeros([1, 4]);
 *   const seq = gruForwardSteps(backend, false, XW, Wh, undefined, h0, dims);
 *   const back = gruBackwardSteps(backend, false, tf.ones([1, 1, 4]), seq, Wh, dims);
 *   console.log(await back.dZh.data());
 *   tf.dispose([XW, Wh, h0, seq, back.dZ, back.dZh, back.dh0]);
 * }
 * ```
 */
export function gruBackwardSteps(
  backend: WebGpuBackendLike,
  resetAfter: boolean,
  dValue: Tensor,
  seq: Tensor,
  Wh: Tensor,
  dims: Dims,
): { dZ: Tensor2D; dZh: Tensor2D; dh0: Tensor2D } {
  const { T, B, H } = dims;
  const BH = B * H, N = T * B;
  const WhT = tf.transpose(Wh); // [3H, H]: unit j's weights contiguous across units
  const Z = N * (resetAfter ? 4 : 3) * H; // where the carried dH ⊙ Z starts
  const out = toTensor(allocate(backend, Z + 2 * BH));
  const inputs = ["dv", "seq", "wht"];
  const bodies = resetAfter
    ? [["rnnDenoGruAfterBackward", AFTER_BACKWARD]]
    : [["rnnDenoGruBeforeCandidate", BEFORE_BACKWARD_CANDIDATE], [
      "rnnDenoGruBeforeReset",
      BEFORE_BACKWARD_RESET,
    ]];
  for (let t = T - 1; t >= -1; t--) {
    for (const [key, body] of t < 0 ? bodies.slice(0, 1) : bodies) {
      const p = program(key, inputs, inputs, out.size, dims, body);
      dispatch(backend, p, [dValue, seq, WhT], [t, B, H, T], out);
    }
  }
  const dh0 = tf.reshape(tf.slice(out, [Z + BH], [BH]), [B, H]) as Tensor2D;
  const W = resetAfter ? 3 * H : 2 * H;
  return {
    dZ: tf.reshape(tf.slice(out, [0], [N * W]), [N, W]) as Tensor2D,
    dZh: tf.reshape(tf.slice(out, [N * W], [N * H]), [N, H]) as Tensor2D,
    dh0,
  };
}
