/**
 * The two length ops of a variable-length sequence on the native backend,
 * each one pass over the values where tf ops take a select with a mask (and,
 * back, two products, a cast, a logical not and a zeros tensor per select):
 *
 * - {@linkcode zeroPastLengths}: `[T, B, W]` with the rows at `t >= lengths[b]`
 *   set to 0 (a select: NaN or Inf there does not get through either way);
 * - {@linkcode atLastSteps}: `[B, W]`, row `b` taken at step `lengths[b] - 1`.
 *
 * On the native backend these were a fifth of a seq2seq training step (the
 * encoder's two layers, each a `[9, 128, 256]` select in and out and the last
 * step's pick), almost all of it the fresh arrays of the mask ops' many outputs.
 * Lengths are known in JS there (reading a tensor back costs nothing), so
 * they ride as attributes.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { GradSaveFunc, Tensor, Tensor2D, Tensor3D } from "../ops/tensors.ts";
import { checkLength, cpuBackendOf, NATIVE_BACKEND, valuesOf } from "../native/backend.ts";
import type { KernelArgs } from "./_native_cross_entropy.ts";
import { registerKernelOnce, runKernel } from "./_wasm_heap.ts";

const ZERO_KERNEL = "RnnDenoZeroPastLengths";
const LAST_KERNEL = "RnnDenoAtLastSteps";
const LAST_GRAD_KERNEL = "RnnDenoAtLastStepsGrad";

/** The real steps of sequence `b`: `lengths[b]` clamped to `[0, T]`. */
function realSteps(lengths: readonly number[], b: number, T: number): number {
  const n = lengths[b];
  return n < 0 ? 0 : n > T ? T : n;
}

/** The checked sizes and values of a `[T, B, W]` input and its lengths. */
function sequenceOf(args: KernelArgs, who: string) {
  const { x } = args.inputs as Record<string, tf.TensorInfo>;
  const lengths = (args.attrs as { lengths: number[] }).lengths;
  const [T, B, W] = x.shape;
  if (x.shape.length !== 3 || lengths.length !== B) {
    throw new Error(
      `${who}: expected x [T, B, W] and B lengths, got [${x.shape}], ${lengths.length}`,
    );
  }
  const values = valuesOf(args.backend, x);
  checkLength(who, "x", values, T * B * W);
  return { T, B, W, values, lengths };
}

/** `out = x` at the real steps, 0 past them: runs of real rows copied whole. */
function zeroKernel(args: KernelArgs): tf.TensorInfo {
  const { T, B, W, values, lengths } = sequenceOf(args, "zeroPastLengths");
  const out = new Float32Array(T * B * W);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B;) {
      if (realSteps(lengths, b, T) <= t) {
        b++;
        continue;
      }
      let end = b + 1;
      while (end < B && realSteps(lengths, end, T) > t) end++;
      out.set(values.subarray((t * B + b) * W, (t * B + end) * W), (t * B + b) * W);
      b = end;
    }
  }
  return cpuBackendOf(args).makeTensorInfo([T, B, W], "float32", out);
}

/** `out[b] = x[lengths[b] - 1, b]`; zeros for a length outside `1..T`. */
function lastKernel(args: KernelArgs): tf.TensorInfo {
  const { T, B, W, values, lengths } = sequenceOf(args, "atLastSteps");
  const out = new Float32Array(B * W);
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    if (n < 1 || n > T) continue;
    const from = ((n - 1) * B + b) * W;
    out.set(values.subarray(from, from + W), b * W);
  }
  return cpuBackendOf(args).makeTensorInfo([B, W], "float32", out);
}

/** The gradient of `lastKernel`: `dy[b]` at step `lengths[b] - 1`, zeros elsewhere. */
function lastGradKernel(args: KernelArgs): tf.TensorInfo {
  const { dy } = args.inputs as Record<string, tf.TensorInfo>;
  const { lengths, steps: T } = args.attrs as { lengths: number[]; steps: number };
  const [B, W] = dy.shape;
  const d = valuesOf(args.backend, dy);
  checkLength("atLastSteps", "dy", d, B * W);
  const out = new Float32Array(T * B * W);
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    if (n >= 1 && n <= T) out.set(d.subarray(b * W, (b + 1) * W), ((n - 1) * B + b) * W);
  }
  return cpuBackendOf(args).makeTensorInfo([T, B, W], "float32", out);
}

registerKernelOnce(NATIVE_BACKEND, ZERO_KERNEL, zeroKernel);
registerKernelOnce(NATIVE_BACKEND, LAST_KERNEL, lastKernel);
registerKernelOnce(NATIVE_BACKEND, LAST_GRAD_KERNEL, lastGradKernel);

/** Throws unless the native backend is the active one (the kernels exist there only). */
function checkNative(who: string): void {
  if (tf.getBackend() !== NATIVE_BACKEND) {
    throw new Error(`${who} runs on the native backend only, not on ${tf.getBackend()}`);
  }
}

/**
 * `x` with every row past its sequence's length set to 0 (native backend).
 * Differentiable in `x`: the gradient is `dy` with the same rows zeroed.
 *
 * @param x `[T, B, W]`, time-major.
 * @param lengths `B` real steps (a length past `T` keeps every step).
 * @returns a new tensor.
 * @throws {Error} off the native backend, or when the shapes do not fit.
 *
 * @example The second sequence is one step long
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * if (tf.getBackend() === "native") {
 *   const y = zeroPastLengths(tf.tensor3d([[[1], [2]], [[3], [4]]]), [2, 1]);
 *   deepStrictEqual(await y.array(), [[[1], [2]], [[3], [0]]]);
 * }
 * ```
 */
export function zeroPastLengths(x: Tensor3D, lengths: ArrayLike<number>): Tensor3D {
  checkNative("zeroPastLengths");
  const attrs = { lengths: Array.from(lengths) };
  const op = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => ({
    value: runKernel<Tensor3D>(ZERO_KERNEL, { x: args[0] as Tensor }, attrs),
    gradFunc: (dy: Tensor) => runKernel<Tensor3D>(ZERO_KERNEL, { x: dy }, attrs),
  }));
  return op(x) as Tensor3D;
}

/**
 * Each sequence's row at its last real step, `out[b] = x[lengths[b] - 1, b]`
 * (native backend). Differentiable in `x`.
 *
 * @param x `[T, B, W]`, time-major.
 * @param lengths `B` real steps; a length outside `1..T` gives a row of zeros.
 * @returns `[B, W]`, a new tensor.
 * @throws {Error} off the native backend, or when the shapes do not fit.
 *
 * @example The last real step of each sequence
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * if (tf.getBackend() === "native") {
 *   const last = atLastSteps(tf.tensor3d([[[1], [2]], [[3], [4]]]), [2, 1]);
 *   deepStrictEqual(await last.array(), [[3], [2]]);
 * }
 * ```
 */
export function atLastSteps(x: Tensor3D, lengths: ArrayLike<number>): Tensor2D {
  checkNative("atLastSteps");
  const attrs = { lengths: Array.from(lengths), steps: x.shape[0] };
  const op = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => ({
    value: runKernel<Tensor2D>(LAST_KERNEL, { x: args[0] as Tensor }, attrs),
    gradFunc: (dy: Tensor) => runKernel<Tensor3D>(LAST_GRAD_KERNEL, { dy }, attrs),
  }));
  return op(x) as Tensor2D;
}
