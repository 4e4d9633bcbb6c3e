/**
 * The native backend's softmax cross-entropy kernels, forward and backward:
 * one C call each (`rnn_xent_forward`, `rnn_xent_backward` in
 * `lib/native/kernels.c`), where tf ops would take about twenty cpu kernels.
 * The inputs are the same named tensors as the wasm kernels of
 * `softmax_cross_entropy.ts`, which registers these under its kernel names.
 *
 * @module
 */
import { tf } from "../tf.ts";
import {
  checkLength,
  cpuBackendOf,
  int32ValuesOf,
  nativeKernels,
  valuesOf,
} from "../native/backend.ts";

/**
 * What tfjs passes a kernel function: inputs, backend, attributes.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * const args: KernelArgs = { inputs: {}, backend: tf.backend(), attrs: {} };
 * console.log(Object.keys(args).length);
 * ```
 */
export type KernelArgs = Parameters<tf.KernelFunc>[0];

function loaded() {
  const lib = nativeKernels();
  if (!lib) throw new Error("softmaxCrossEntropy: the native kernels are not loaded");
  return lib;
}

/** Sizes checked before the call: `[N, C]` values, `[N]` labels, `[C]` weights. */
function checked(
  who: string,
  backend: unknown,
  x: tf.TensorInfo,
  labels: tf.TensorInfo,
  weights?: tf.TensorInfo,
) {
  if (x.shape.length !== 2) throw new Error(`${who}: expected [N, C] values, got [${x.shape}]`);
  const [N, C] = x.shape;
  const X = valuesOf(backend, x), ys = int32ValuesOf(backend, labels);
  checkLength(who, "values", X, N * C);
  if (ys.length !== N) throw new Error(`${who}: labels has ${ys.length} values, expected ${N}`);
  const W = weights ? valuesOf(backend, weights) : null;
  if (W) checkLength(who, "weights", W, C);
  return { N, C, X, ys, W };
}

function badLabel(status: number, ys: Int32Array, C: number): Error {
  const n = status - 1;
  return new Error(`softmaxCrossEntropy: label ${ys[n]} at ${n} is outside [0, ${C})`);
}

/**
 * Forward: inputs `logits [N, C]`, `labels [N]` int32, optional `weights [C]`;
 * outputs the mean loss (a scalar) and the softmax `[N, C]` (kept for the
 * backward pass).
 *
 * @throws {Error} for a label outside `[0, C)` or sizes that do not match.
 *
 * @example Registered by softmax_cross_entropy.ts; runs when the native backend is active
 * ```ts
 * import { ok } from "node:assert";
 * ok(typeof nativeCrossEntropyForward === "function");
 * ```
 */
export function nativeCrossEntropyForward(args: KernelArgs): tf.TensorInfo[] {
  const { logits, labels, weights } = args.inputs as Record<string, tf.TensorInfo>;
  const who = "native softmaxCrossEntropy";
  const { N, C, X, ys, W } = checked(who, args.backend, logits, labels, weights);
  const probs = new Float32Array(N * C), loss = new Float32Array(1);
  const status = loaded().rnn_xent_forward(N, C, X, ys, W, probs, loss);
  if (status !== 0) throw badLabel(status, ys, C);
  const backend = cpuBackendOf(args);
  return [
    backend.makeTensorInfo([], "float32", loss),
    backend.makeTensorInfo([N, C], "float32", probs),
  ];
}

/**
 * Backward: inputs `dy` (a scalar), `probs [N, C]`, `labels [N]`, optional
 * `weights [C]`; output the logits' gradient `[N, C]`.
 *
 * @throws {Error} for a label outside `[0, C)` or sizes that do not match.
 *
 * @example Registered by softmax_cross_entropy.ts; runs when the native backend is active
 * ```ts
 * import { ok } from "node:assert";
 * ok(typeof nativeCrossEntropyBackward === "function");
 * ```
 */
export function nativeCrossEntropyBackward(args: KernelArgs): tf.TensorInfo {
  const { dy, probs, labels, weights } = args.inputs as Record<string, tf.TensorInfo>;
  const who = "native softmaxCrossEntropy gradient";
  const { N, C, X: P, ys, W } = checked(who, args.backend, probs, labels, weights);
  const G = valuesOf(args.backend, dy);
  checkLength(who, "dy", G, 1);
  const dx = new Float32Array(N * C);
  const status = loaded().rnn_xent_backward(N, C, G[0], P, ys, W, dx);
  if (status !== 0) throw badLabel(status, ys, C);
  return cpuBackendOf(args).makeTensorInfo([N, C], "float32", dx);
}
