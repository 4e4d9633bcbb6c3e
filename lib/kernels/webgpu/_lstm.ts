/**
 * LSTM over a sequence on WebGPU: one WGSL dispatch per step forward (the
 * recurrent matmul, the gates and the state update of every hidden unit) and
 * one per step backward (`dZ_{t+1} Wh^T` for the unit, then its four
 * pre-activation gradients and the cell-state gradient). The input
 * projection and the weight gradients stay single tfjs matmuls over all
 * `T*B` rows. Same equations and gate order (i, f, o, c) as `../_lstm.ts`.
 *
 * Forward buffer `seq` (float32, in blocks of `B*H`, unit `(b, j)` at `b*H + j`):
 *
 * | blocks | content |
 * |---|---|
 * | `0 .. T` | `h0, h_0 .. h_{T-1}` |
 * | `T+1` | `c_{T-1}` (so blocks `1 .. T+1` are the op's value) |
 * | `T+2 .. 2T+2` | `c0, c_0 .. c_{T-1}` |
 * | then 5 planes of `T` blocks | `I, F, O, C~, tanh(C)` per step |
 *
 * Backward buffer: `dZ` `[T*B, 4H]` (step-major), then `dc` `[B*H]` (updated in
 * place: only unit `(b, j)` touches it), then `dh0` `[B*H]`.
 *
 * With cell states asked for, the op's value is `[2T, B, H]`: `h_0 .. h_{T-1}`
 * (blocks `1 .. T`), then `c_0 .. c_{T-1}` (blocks `T+3 .. 2T+2`); the backward
 * programs are then compiled with {@linkcode dcStart} adding `dC_t` at each step.
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
  UNIT_PRELUDE,
  vec4Prelude,
  type WebGpuBackendLike,
} from "./_program.ts";

const UNIFORMS = STEP_UNIFORMS;

const FORWARD = `${UNIT_PRELUDE}
  let G = 4 * H;
  let x = (t * B + b) * G + j;
  var a0 = xw[x]; var a1 = xw[x + H]; var a2 = xw[x + 2 * H]; var a3 = xw[x + 3 * H];
  var cp : f32;
  if (t == 0) {
    let row = b * H;
    for (var k = 0; k < H; k++) {
      let hv = hinit[row + k];
      let w = k * G + j;
      a0 += hv * wh[w]; a1 += hv * wh[w + H]; a2 += hv * wh[w + 2 * H]; a3 += hv * wh[w + 3 * H];
    }
    cp = cinit[index];
    result[index] = hinit[index];
    result[(T + 2) * BH + index] = cp;
  } else {
    let row = t * BH + b * H;
    for (var k = 0; k < H; k++) {
      let hv = result[row + k];
      let w = k * G + j;
      a0 += hv * wh[w]; a1 += hv * wh[w + H]; a2 += hv * wh[w + 2 * H]; a3 += hv * wh[w + 3 * H];
    }
    cp = result[(T + 2 + t) * BH + index];
  }
  let i = sigm(a0); let f = sigm(a1); let o = sigm(a2); let g = tanhs(a3);
  let c = f * cp + i * g;
  let tc = tanhs(c);
  result[(t + 1) * BH + index] = o * tc;
  result[(T + 3 + t) * BH + index] = c;
  if (t == T - 1) { result[(T + 1) * BH + index] = c; }
  let gates = (2 * T + 3 + t) * BH + index;
  let plane = T * BH;
  result[gates] = i;
  result[gates + plane] = f;
  result[gates + 2 * plane] = o;
  result[gates + 3 * plane] = g;
  result[gates + 4 * plane] = tc;
`;

/**
 * WGSL that sets `var dc` (type `type`) at step `t`: the cell-state gradient
 * arriving from step `t+1` (read by `carried`), or the final state's from
 * `dv` block `T`; with `cells`, plus `dC_t` from `dv` block `T+t` (then the
 * last step has only that, which includes the final state's). `at(block)` is
 * the `dv` index of this unit in a block.
 */
function dcStart(cells: boolean, type: string, at: (block: string) => string, carried: string) {
  return cells
    ? `var dc : ${type} = dv[${at("T + t")}]; if (t < T - 1) { dc += ${carried}; }`
    : `var dc : ${type};
  if (t == T - 1) { dc = dv[${at("T")}]; } else { dc = ${carried}; }`;
}

/** The one-unit-per-invocation backward step; `cells` adds `dC_t` (see {@linkcode dcStart}). */
function backwardScalar(cells: boolean): string {
  return `${UNIT_PRELUDE}
  let G = 4 * H;
  let dcAt = T * B * G + index;
  if (t < 0) {
    // dh0 = dZ_0 Wh^T for this unit.
    var acc = 0.0;
    let row = b * G;
    for (var k = 0; k < G; k++) { acc += result[row + k] * wht[k * H + j]; }
    result[dcAt + BH] = acc;
    return;
  }
  var dh = dv[t * BH + index];
  if (t < T - 1) {
    let row = ((t + 1) * B + b) * G;
    for (var k = 0; k < G; k++) { dh += result[row + k] * wht[k * H + j]; }
  }
  ${dcStart(cells, "f32", (block) => `(${block}) * BH + index`, "result[dcAt]")}
  let gates = (2 * T + 3 + t) * BH + index;
  let plane = T * BH;
  let i = seq[gates]; let f = seq[gates + plane]; let o = seq[gates + 2 * plane];
  let g = seq[gates + 3 * plane]; let tc = seq[gates + 4 * plane];
  let cp = seq[(T + 2 + t) * BH + index];
  dc += dh * o * (1.0 - tc * tc);
  let z = (t * B + b) * G + j;
  result[z] = dc * g * i * (1.0 - i);
  result[z + H] = dc * cp * f * (1.0 - f);
  result[z + 2 * H] = dh * tc * o * (1.0 - o);
  result[z + 3 * H] = dc * i * (1.0 - g * g);
  result[dcAt] = dc * f;
`;
}

/** `R` copies of `line(r)` joined, for register tiling over batch rows. */
function rows(R: number, line: (r: number) => string): string {
  return Array.from({ length: R }, (_, r) => line(r)).join(" ");
}

/**
 * {@linkcode FORWARD} with four adjacent units per invocation (`H % 4 == 0`,
 * vec4 loads) for `R` batch rows (`B % R == 0`): each weight load is shared by
 * the `R` rows. Same summation order per unit as {@linkcode FORWARD}.
 */
function forwardVec4(R: number): string {
  return `${vec4Prelude(R)}
  let G = 4 * H;
  let G4 = G / 4;
  ${rows(R, (r) => `let x${r} = (t * B + b0 + ${r}) * G4 + j4;`)}
  ${
    rows(R, (r) =>
      `var a0_${r} = xw[x${r}]; var a1_${r} = xw[x${r} + H4]; var a2_${r} = xw[x${r} + 2 * H4]; var a3_${r} = xw[x${r} + 3 * H4];`)
  }
  if (t == 0) {
    let row = b0 * H;
    for (var k = 0; k < H; k++) {
      let w = k * G4 + j4;
      let w0 = wh[w]; let w1 = wh[w + H4]; let w2 = wh[w + 2 * H4]; let w3 = wh[w + 3 * H4];
      ${
    rows(R, (r) =>
      `let hv${r} = hinit[row + ${r} * H + k]; a0_${r} += hv${r} * w0; a1_${r} += hv${r} * w1; a2_${r} += hv${r} * w2; a3_${r} += hv${r} * w3;`)
  }
    }
  } else {
    let row = t * BH + b0 * H;
    for (var k = 0; k < H; k++) {
      let w = k * G4 + j4;
      let w0 = wh[w]; let w1 = wh[w + H4]; let w2 = wh[w + 2 * H4]; let w3 = wh[w + 3 * H4];
      ${
    rows(R, (r) =>
      `let hv${r} = result[row + ${r} * H + k]; a0_${r} += hv${r} * w0; a1_${r} += hv${r} * w1; a2_${r} += hv${r} * w2; a3_${r} += hv${r} * w3;`)
  }
    }
  }
  ${
    rows(R, (r) =>
      `forwardCell(t, T, BH, (b0 + ${r}) * H + 4 * j4, a0_${r}, a1_${r}, a2_${r}, a3_${r});`)
  }
`;
}

/** The gates and state update of four adjacent units at offset `u` after the recurrent matmul. */
const FORWARD_CELL = `
  fn forwardCell(t : i32, T : i32, BH : i32, u : i32, a0 : vec4<f32>, a1 : vec4<f32>,
                 a2 : vec4<f32>, a3 : vec4<f32>) {
    var cp : vec4<f32>;
    if (t == 0) {
      cp = cinit[u / 4];
      for (var e = 0; e < 4; e++) {
        result[u + e] = hinit[u + e];
        result[(T + 2) * BH + u + e] = cp[e];
      }
    } else {
      let at = (T + 2 + t) * BH + u;
      cp = vec4<f32>(result[at], result[at + 1], result[at + 2], result[at + 3]);
    }
    let plane = T * BH;
    let gates = (2 * T + 3 + t) * BH + u;
    for (var e = 0; e < 4; e++) {
      let i = sigm(a0[e]); let f = sigm(a1[e]); let o = sigm(a2[e]); let g = tanhs(a3[e]);
      let c = f * cp[e] + i * g;
      let tc = tanhs(c);
      result[(t + 1) * BH + u + e] = o * tc;
      result[(T + 3 + t) * BH + u + e] = c;
      if (t == T - 1) { result[(T + 1) * BH + u + e] = c; }
      result[gates + e] = i;
      result[gates + plane + e] = f;
      result[gates + 2 * plane + e] = o;
      result[gates + 3 * plane + e] = g;
      result[gates + 4 * plane + e] = tc;
    }
  }
`;

/**
 * {@linkcode backwardScalar} with four adjacent units per invocation (`H % 4 == 0`,
 * vec4 loads) for `R` batch rows (`B % R == 0`), sharing each `Wh^T` load.
 */
function backwardVec4(R: number): string {
  return `${vec4Prelude(R)}
  let G = 4 * H;
  if (t < 0) {
    ${rows(R, (r) => `var acc${r} = vec4<f32>(0.0);`)}
    let row = b0 * G;
    for (var k = 0; k < G; k++) {
      let w = wht[k * H4 + j4];
      ${rows(R, (r) => `acc${r} += result[row + ${r} * G + k] * w;`)}
    }
    ${
    rows(R, (r) =>
      `for (var e = 0; e < 4; e++) { result[T * B * G + BH + (b0 + ${r}) * H + 4 * j4 + e] = acc${r}[e]; }`)
  }
    return;
  }
  ${rows(R, (r) => `var dh${r} = dv[(t * BH + (b0 + ${r}) * H + 4 * j4) / 4];`)}
  if (t < T - 1) {
    let row = ((t + 1) * B + b0) * G;
    for (var k = 0; k < G; k++) {
      let w = wht[k * H4 + j4];
      ${rows(R, (r) => `dh${r} += result[row + ${r} * G + k] * w;`)}
    }
  }
  ${rows(R, (r) => `backwardCell(t, T, B, H, b0 + ${r}, j4, dh${r});`)}
`;
}

/**
 * The pre-activation and cell-state gradients of four adjacent units given
 * their `dh`; `cells` adds `dC_t` (see {@linkcode dcStart}).
 */
function backwardCell(cells: boolean): string {
  return `
  fn backwardCell(t : i32, T : i32, B : i32, H : i32, b : i32, j4 : i32, dh : vec4<f32>) {
    let BH = B * H;
    let G = 4 * H;
    let u = b * H + 4 * j4;
    let dcAt = T * B * G + u;
    ${
    dcStart(
      cells,
      "vec4<f32>",
      (block) => `((${block}) * BH + u) / 4`,
      "vec4<f32>(result[dcAt], result[dcAt + 1], result[dcAt + 2], result[dcAt + 3])",
    )
  }
    let gates = ((2 * T + 3 + t) * BH + u) / 4;
    let plane = T * BH / 4;
    let i = seq[gates]; let f = seq[gates + plane]; let o = seq[gates + 2 * plane];
    let g = seq[gates + 3 * plane]; let tc = seq[gates + 4 * plane];
    let cp = seq[((T + 2 + t) * BH + u) / 4];
    dc += dh * o * (1.0 - tc * tc);
    let zi = dc * g * i * (1.0 - i);
    let zf = dc * cp * f * (1.0 - f);
    let zo = dh * tc * o * (1.0 - o);
    let zc = dc * i * (1.0 - g * g);
    let dcNext = dc * f;
    let z = (t * B + b) * G + 4 * j4;
    for (var e = 0; e < 4; e++) {
      result[z + e] = zi[e];
      result[z + H + e] = zf[e];
      result[z + 2 * H + e] = zo[e];
      result[z + 3 * H + e] = zc[e];
      result[dcAt + e] = dcNext[e];
    }
  }
`;
}

/** Batch rows per invocation of the vec4 programs: the largest of 8, 4, 2, 1 dividing `B`. */
function rowTile(B: number): number {
  return B % 8 === 0 ? 8 : B % 4 === 0 ? 4 : B % 2 === 0 ? 2 : 1;
}

/** Size of the forward buffer in elements. */
function seqSize({ T, B, H }: Dims): number {
  return (7 * T + 3) * B * H;
}

/**
 * Runs the recurrence. `XW` `[T*B, 4H]` is the input projection plus bias.
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
 *   const XW = tf.zeros([2, 8]), Wh = tf.zeros([2, 8]), h0 = tf.zeros([1, 2]);
 *   const seq = lstmForwardSteps(backend, XW, Wh, h0, h0, dims);
 *   const { value, Hprev } = lstmViews(seq, dims);
 *   const back = lstmBackwardSteps(backend, tf.onesLike(value), seq, Wh, dims);
 *   console.log(await back.dZ.data());
 *   tf.dispose([XW, Wh, h0, seq, value, Hprev, back.dZ, back.dh0, back.dc0]);
 * }
 * ```
 */
export function lstmForwardSteps(
  backend: WebGpuBackendLike,
  XW: Tensor,
  Wh: Tensor,
  h0: Tensor,
  c0: Tensor,
  dims: Dims,
): Tensor1D {
  const { T, B, H } = dims;
  const seq = toTensor(allocate(backend, seqSize(dims)));
  const vec4 = H % 4 === 0;
  const R = rowTile(B);
  for (let t = 0; t < T; t++) {
    const program = new StepProgram({
      key: vec4 ? `rnnDenoLstmForward4r${R}` : "rnnDenoLstmForward",
      inputs: ["xw", "wh", "hinit", "cinit"],
      components: vec4 ? [4, 4, 1, 4] : undefined,
      uniforms: UNIFORMS,
      outputSize: seq.size,
      count: vec4 ? B * H / 4 / R : B * H,
      body: vec4 ? forwardVec4(R) : FORWARD,
      helpers: vec4 ? FORWARD_CELL : undefined,
    });
    dispatch(backend, program, [XW, Wh, h0, c0], [t, B, H, T], seq);
  }
  return seq;
}

/**
 * The op's value `[T+1, B, H]` (outputs, then `c_{T-1}`), or with `cellStates`
 * `[2T, B, H]` (outputs, then `c_0 .. c_{T-1}`), and `Hprev` `[T*B, H]` from `seq`.
 *
 * @example Forward and backward on webgpu
 * ```ts
 * import { tf } from "../../tf.ts";
 * import { webgpuBackend } from "./_program.ts";
 * const backend = webgpuBackend(); // null off webgpu
 * if (backend) {
 *   const dims = { T: 2, B: 1, D: 1, H: 2 };
 *   const XW = tf.zeros([2, 8]), Wh = tf.zeros([2, 8]), h0 = tf.zeros([1, 2]);
 *   const seq = lstmForwardSteps(backend, XW, Wh, h0, h0, dims);
 *   const { value, Hprev } = lstmViews(seq, dims);
 *   const back = lstmBackwardSteps(backend, tf.onesLike(value), seq, Wh, dims);
 *   console.log(await back.dZ.data());
 *   tf.dispose([XW, Wh, h0, seq, value, Hprev, back.dZ, back.dh0, back.dc0]);
 * }
 * ```
 */
export function lstmViews(
  seq: Tensor,
  dims: Dims,
  cellStates = false,
): { value: Tensor3D; Hprev: Tensor2D } {
  const { T, B, H } = dims;
  const BH = B * H;
  const value = cellStates
    ? tf.concat([tf.slice(seq, [BH], [T * BH]), tf.slice(seq, [(T + 3) * BH], [T * BH])])
    : tf.slice(seq, [BH], [(T + 1) * BH]);
  return {
    value: tf.reshape(value, [cellStates ? 2 * T : T + 1, B, H]) as Tensor3D,
    Hprev: tf.reshape(tf.slice(seq, [0], [T * BH]), [T * B, H]) as Tensor2D,
  };
}

/**
 * Back-propagation through the recurrence.
 *
 * @param dValue the gradient of the value (`[T+1, B, H]`, or `[2T, B, H]` with `cellStates`).
 * @param cellStates whether the value holds every step's cell state (see {@linkcode lstmViews}).
 * @returns `dZ` `[T*B, 4H]` (pre-activation gradients), `dh0` and `dc0` `[B, H]`.
 *
 * @example Forward and backward on webgpu
 * ```ts
 * import { tf } from "../../tf.ts";
 * import { webgpuBackend } from "./_program.ts";
 * const backend = webgpuBackend(); // null off webgpu
 * if (backend) {
 *   const dims = { T: 2, B: 1, D: 1, H: 2 };
 *   const XW = tf.zeros([2, 8]), Wh = tf.zeros([2, 8]), h0 = tf.zeros([1, 2]);
 *   const seq = lstmForwardSteps(backend, XW, Wh, h0, h0, dims);
 *   const { value, Hprev } = lstmViews(seq, dims);
 *   const back = lstmBackwardSteps(backend, tf.onesLike(value), seq, Wh, dims);
 *   console.log(await back.dZ.data());
 *   tf.dispose([XW, Wh, h0, seq, value, Hprev, back.dZ, back.dh0, back.dc0]);
 * }
 * ```
 */
export function lstmBackwardSteps(
  backend: WebGpuBackendLike,
  dValue: Tensor,
  seq: Tensor,
  Wh: Tensor,
  dims: Dims,
  cellStates = false,
): { dZ: Tensor2D; dh0: Tensor2D; dc0: Tensor2D } {
  const { T, B, H } = dims;
  const BH = B * H, G = 4 * H;
  const WhT = tf.transpose(Wh); // [4H, H]: unit j's weights contiguous across units
  const out = toTensor(allocate(backend, T * B * G + 2 * BH));
  const vec4 = H % 4 === 0;
  const R = rowTile(B);
  const body = vec4 ? backwardVec4(R) : backwardScalar(cellStates);
  const helpers = vec4 ? backwardCell(cellStates) : undefined;
  for (let t = T - 1; t >= -1; t--) {
    const program = new StepProgram({
      key: (vec4 ? `rnnDenoLstmBackward4r${R}` : "rnnDenoLstmBackward") +
        (cellStates ? "Cells" : ""),
      inputs: ["dv", "seq", "wht"],
      components: vec4 ? [4, 4, 4] : undefined,
      uniforms: UNIFORMS,
      outputSize: out.size,
      count: vec4 ? BH / 4 / R : BH,
      body,
      helpers,
    });
    dispatch(backend, program, [dValue, seq, WhT], [t, B, H, T], out);
  }
  return {
    dZ: tf.reshape(tf.slice(out, [0], [T * B * G]), [T * B, G]) as Tensor2D,
    dc0: tf.reshape(tf.slice(out, [T * B * G], [BH]), [B, H]) as Tensor2D,
    dh0: tf.reshape(tf.slice(out, [T * B * G + BH], [BH]), [B, H]) as Tensor2D,
  };
}
