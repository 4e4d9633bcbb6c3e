/**
 * Vanilla RNN (tanh or relu) over a sequence on WebGPU: one WGSL dispatch per
 * step forward (`φ(XW_t + h W_hh)` for each hidden unit) and one per step
 * backward (`dZ_{t+1} W_hh^T` for the unit, times `φ'`). Same equations as
 * `../_rnn.ts`.
 *
 * Forward buffer `seq` (blocks of `B*H`): `h0, h_0 .. h_{T-1}` (blocks
 * `1 .. T` are the outputs). Backward buffer: `dZ` `[T*B, H]`, then `dh0`.
 *
 * @module
 */
import { tf } from "../../tf.ts";
import type { Tensor, Tensor1D, Tensor2D, Tensor3D } from "../../ops/tensors.ts";
import type { Nonlinearity } from "../../cells/types.ts";
import type { Dims } from "../_common.ts";
import {
  allocate,
  dispatch,
  STEP_UNIFORMS,
  StepProgram,
  toTensor,
  UNIT_PRELUDE,
  type WebGpuBackendLike,
} from "./_program.ts";

const UNIFORMS = STEP_UNIFORMS;

/** `act(a)` and `actDeriv(h)` (from the output) per nonlinearity. */
const ACTIVATION: Record<Nonlinearity, string> = {
  tanh: `fn act(a : f32) -> f32 { return tanhs(a); }
         fn actDeriv(h : f32) -> f32 { return 1.0 - h * h; }`,
  relu: `fn act(a : f32) -> f32 { return max(a, 0.0); }
         fn actDeriv(h : f32) -> f32 { return select(0.0, 1.0, h > 0.0); }`,
};

const FORWARD = `${UNIT_PRELUDE}
  var a = xw[t * BH + index];
  if (t == 0) {
    for (var k = 0; k < H; k++) { a += hinit[b * H + k] * wh[k * H + j]; }
    result[index] = hinit[index];
  } else {
    let row = t * BH + b * H;
    for (var k = 0; k < H; k++) { a += result[row + k] * wh[k * H + j]; }
  }
  result[(t + 1) * BH + index] = act(a);
`;

const BACKWARD = `${UNIT_PRELUDE}
  if (t < 0) {
    var acc = 0.0;
    for (var k = 0; k < H; k++) { acc += result[b * H + k] * wht[k * H + j]; }
    result[T * BH + index] = acc;
    return;
  }
  var dh = dv[t * BH + index];
  if (t < T - 1) {
    let row = (t + 1) * BH + b * H;
    for (var k = 0; k < H; k++) { dh += result[row + k] * wht[k * H + j]; }
  }
  result[t * BH + index] = dh * actDeriv(seq[(t + 1) * BH + index]);
`;

function program(
  phi: Nonlinearity,
  key: string,
  inputs: string[],
  outputSize: number,
  count: number,
  body: string,
): StepProgram {
  return new StepProgram({
    key: `${key}_${phi}`,
    inputs,
    uniforms: UNIFORMS,
    outputSize,
    count,
    helpers: ACTIVATION[phi],
    body,
  });
}

/**
 * Runs the recurrence from `XW` `[T*B, H]` (projection plus bias): the forward buffer.
 *
 * @example Forward and backward on webgpu
 * ```ts
 * import { tf } from "../../tf.ts";
 * import { webgpuBackend } from "./_program.ts";
 * const backend = webgpuBackend(); // null off webgpu
 * if (backend) {
 *   const dims = { T: 2, B: 1, D: 1, H: 2 };
 *   const XW = tf.ones([2, 2]), Wh = tf.zeros([2, 2]), h0 = tf.zeros([1, 2]);
 *   const seq = rnnForwardSteps(backend, "tanh", XW, Wh, h0, dims);
 *   const { value, Hprev } = rnnViews(seq, dims);
 *   const back = rnnBackwardSteps(backend, "tanh", tf.onesLike(value), seq, Wh, dims);
 *   console.log(await back.dZ.data());
 *   tf.dispose([XW, Wh, h0, seq, value, Hprev, back.dZ, back.dh0]);
 * }
 * ```
 */
export function rnnForwardSteps(
  backend: WebGpuBackendLike,
  phi: Nonlinearity,
  XW: Tensor,
  Wh: Tensor,
  h0: Tensor,
  dims: Dims,
): Tensor1D {
  const { T, B, H } = dims;
  const seq = toTensor(allocate(backend, (T + 1) * B * H));
  for (let t = 0; t < T; t++) {
    const p = program(phi, "rnnDenoRnnForward", ["xw", "wh", "hinit"], seq.size, B * H, FORWARD);
    dispatch(backend, p, [XW, Wh, h0], [t, B, H, T], seq);
  }
  return seq;
}

/**
 * The outputs `[T, B, H]` and `Hprev` `[T*B, H]` from the forward buffer.
 *
 * @example Forward and backward on webgpu
 * ```ts
 * import { tf } from "../../tf.ts";
 * import { webgpuBackend } from "./_program.ts";
 * const backend = webgpuBackend(); // null off webgpu
 * if (backend) {
 *   const dims = { T: 2, B: 1, D: 1, H: 2 };
 *   const XW = tf.ones([2, 2]), Wh = tf.zeros([2, 2]), h0 = tf.zeros([1, 2]);
 *   const seq = rnnForwardSteps(backend, "tanh", XW, Wh, h0, dims);
 *   const { value, Hprev } = rnnViews(seq, dims);
 *   const back = rnnBackwardSteps(backend, "tanh", tf.onesLike(value), seq, Wh, dims);
 *   console.log(await back.dZ.data());
 *   tf.dispose([XW, Wh, h0, seq, value, Hprev, back.dZ, back.dh0]);
 * }
 * ```
 */
export function rnnViews(seq: Tensor, dims: Dims): { value: Tensor3D; Hprev: Tensor2D } {
  const { T, B, H } = dims;
  const BH = B * H;
  return {
    value: tf.reshape(tf.slice(seq, [BH], [T * BH]), [T, B, H]) as Tensor3D,
    Hprev: tf.reshape(tf.slice(seq, [0], [T * BH]), [T * B, H]) as Tensor2D,
  };
}

/**
 * Back-propagation through the recurrence: `dZ` `[T*B, H]` and `dh0` `[B, H]`.
 *
 * @example Forward and backward on webgpu
 * ```ts
 * import { tf } from "../../tf.ts";
 * import { webgpuBackend } from "./_program.ts";
 * const backend = webgpuBackend(); // null off webgpu
 * if (backend) {
 *   const dims = { T: 2, B: 1, D: 1, H: 2 };
 *   const XW = tf.ones([2, 2]), Wh = tf.zeros([2, 2]), h0 = tf.zeros([1, 2]);
 *   const seq = rnnForwardSteps(backend, "tanh", XW, Wh, h0, dims);
 *   const { value, Hprev } = rnnViews(seq, dims);
 *   const back = rnnBackwardSteps(backend, "tanh", tf.onesLike(value), seq, Wh, dims);
 *   console.log(await back.dZ.data());
 *   tf.dispose([XW, Wh, h0, seq, value, Hprev, back.dZ, back.dh0]);
 * }
 * ```
 */
export function rnnBackwardSteps(
  backend: WebGpuBackendLike,
  phi: Nonlinearity,
  dValue: Tensor,
  seq: Tensor,
  Wh: Tensor,
  dims: Dims,
): { dZ: Tensor2D; dh0: Tensor2D } {
  const { T, B, H } = dims;
  const BH = B * H;
  const WhT = tf.transpose(Wh);
  const out = toTensor(allocate(backend, (T + 1) * BH));
  for (let t = T - 1; t >= -1; t--) {
    const p = program(phi, "rnnDenoRnnBackward", ["dv", "seq", "wht"], out.size, BH, BACKWARD);
    dispatch(backend, p, [dValue, seq, WhT], [t, B, H, T], out);
  }
  return {
    dZ: tf.reshape(tf.slice(out, [0], [T * BH]), [T * B, H]) as Tensor2D,
    dh0: tf.reshape(tf.slice(out, [T * BH], [BH]), [B, H]) as Tensor2D,
  };
}
