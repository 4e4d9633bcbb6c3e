/**
 * Softmax cross-entropy of labelled rows as one differentiable op: PyTorch's
 * `nn.CrossEntropyLoss(weight)` with mean reduction,
 *
 *   loss = sum_n w[y_n] * -log softmax(x_n)[y_n]  /  sum_n w[y_n]
 *
 * (w = 1 without class weights: the plain mean), and its gradient
 *
 *   dloss/dx_n = w[y_n] / sum_m w[y_m] * (softmax(x_n) - onehot(y_n)).
 *
 * Why one op: written with tf ops (one-hot, log-softmax, products, sums) the
 * loss of a classifier's small `[64, 18]` logits costs about twenty ops
 * forward and back, each more dispatch than arithmetic. On wasm a JavaScript
 * kernel does each direction in one pass (in float64, rounded once), on
 * native a C kernel does the same (`_native_cross_entropy.ts`); on every
 * other backend the same formulas run as tf ops. Both directions are checked
 * against a float64 reference and finite differences.
 *
 * @module
 */
import type { NamedTensorMap, Scalar, Tensor, Tensor1D, Tensor2D } from "../ops/tensors.ts";
import { tf } from "../tf.ts";
import {
  heapOffset,
  type KernelArgs,
  registerKernelOnce,
  registerWasmKernel,
  runKernel,
  useWasmPath,
  type WasmHeapBackend,
} from "./_wasm_heap.ts";
import { NATIVE_BACKEND, nativeKernels } from "../native/backend.ts";
import { nativeCrossEntropyBackward, nativeCrossEntropyForward } from "./_native_cross_entropy.ts";

const FORWARD_KERNEL = "RnnDenoCrossEntropy";
const BACKWARD_KERNEL = "RnnDenoCrossEntropyGrad";

/** Labels as JS numbers: int32 views of the heap, re-taken after any allocation. */
function labelsOf(backend: WasmHeapBackend, labels: tf.TensorInfo): Int32Array {
  return backend.typedArrayFromHeap(labels) as Int32Array;
}

function forwardKernel(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmHeapBackend;
  const { logits, labels, weights } = args.inputs as Record<string, tf.TensorInfo>;
  const [N, C] = logits.shape;
  const loss = backend.makeOutput([], "float32");
  const probs = backend.makeOutput([N, C], "float32");
  const ys = labelsOf(backend, labels);
  const { heap, offset: X } = heapOffset(backend, logits);
  const P = heapOffset(backend, probs).offset, L = heapOffset(backend, loss).offset;
  const W = weights ? heapOffset(backend, weights).offset : -1;
  let total = 0, weightSum = 0;
  for (let n = 0; n < N; n++) {
    const row = X + n * C, out = P + n * C, y = ys[n];
    if (!(y >= 0 && y < C)) {
      throw new Error(`softmaxCrossEntropy: label ${y} at ${n} is outside [0, ${C})`);
    }
    let max = -Infinity;
    for (let k = 0; k < C; k++) max = Math.max(max, heap[row + k]);
    let sum = 0;
    for (let k = 0; k < C; k++) sum += heap[out + k] = Math.exp(heap[row + k] - max);
    for (let k = 0; k < C; k++) heap[out + k] /= sum;
    const w = W < 0 ? 1 : heap[W + y];
    total += w * (max + Math.log(sum) - heap[row + y]);
    weightSum += w;
  }
  heap[L] = total / weightSum;
  return [loss, probs];
}

function backwardKernel(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const { dy, probs, labels, weights } = args.inputs as Record<string, tf.TensorInfo>;
  const [N, C] = probs.shape;
  const dx = backend.makeOutput([N, C], "float32");
  const ys = labelsOf(backend, labels);
  const { heap, offset: P } = heapOffset(backend, probs);
  const D = heapOffset(backend, dx).offset, G = heapOffset(backend, dy).offset;
  const W = weights ? heapOffset(backend, weights).offset : -1;
  let weightSum = 0;
  for (let n = 0; n < N; n++) weightSum += W < 0 ? 1 : heap[W + ys[n]];
  for (let n = 0; n < N; n++) {
    const y = ys[n], scale = heap[G] * (W < 0 ? 1 : heap[W + y]) / weightSum;
    for (let k = 0; k < C; k++) heap[D + n * C + k] = scale * heap[P + n * C + k];
    heap[D + n * C + y] -= scale;
  }
  return dx;
}

registerWasmKernel(FORWARD_KERNEL, forwardKernel);
registerWasmKernel(BACKWARD_KERNEL, backwardKernel);
// The same kernel names on the native backend: one C call each way.
registerKernelOnce(NATIVE_BACKEND, FORWARD_KERNEL, nativeCrossEntropyForward);
registerKernelOnce(NATIVE_BACKEND, BACKWARD_KERNEL, nativeCrossEntropyBackward);

/** Each row's weight `w[y_n]` `[N]` (ones without class weights). */
function rowWeights(labels: Tensor1D, N: number, weights?: Tensor1D): Tensor1D {
  return weights ? tf.gather(weights, labels) : tf.ones([N]);
}

/** `[loss, softmax]` with tf ops (every backend but wasm). */
function forwardOps(logits: Tensor2D, labels: Tensor1D, weights?: Tensor1D): Tensor[] {
  const [N, C] = logits.shape;
  const logp = tf.logSoftmax(logits);
  const nll = tf.neg(tf.sum(tf.mul(tf.oneHot(labels, C), logp), 1)); // [N]
  const w = rowWeights(labels, N, weights);
  return [tf.div(tf.sum(tf.mul(w, nll)), tf.sum(w)), tf.exp(logp)];
}

/** The logits' gradient with tf ops (every backend but wasm). */
function backwardOps(
  dy: Tensor,
  probs: Tensor2D,
  labels: Tensor1D,
  weights?: Tensor1D,
): Tensor {
  const [N, C] = probs.shape;
  const w = rowWeights(labels, N, weights);
  const scale = tf.mul(tf.div(w, tf.sum(w)), dy); // [N]
  return tf.mul(tf.sub(probs, tf.oneHot(labels, C)), tf.expandDims(scale, 1));
}

/**
 * The mean softmax cross-entropy of `logits` against `labels`, optionally
 * weighted per class (PyTorch's `CrossEntropyLoss(weight)`); differentiable
 * in `logits`.
 *
 * @param logits `[N, C]` float32.
 * @param labels int32 `[N]`, each in `[0, C)`.
 * @param classWeights `[C]`, each > 0, or undefined for the plain mean.
 * @returns a scalar, owned by the caller.
 * @throws {Error} (on wasm and native) for a label outside `[0, C)`.
 *
 * @example Two rows, uniform logits: the loss is log C
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * const loss = softmaxCrossEntropy(tf.zeros([2, 4]) as tf.Tensor2D, tf.tensor1d([0, 3], "int32"));
 * ok(Math.abs((await loss.data())[0] - Math.log(4)) < 1e-6);
 * ```
 */
export function softmaxCrossEntropy(
  logits: Tensor2D,
  labels: Tensor1D,
  classWeights?: Tensor1D,
): Scalar {
  const float32 = [logits, classWeights].every((t) => !t || t.dtype === "float32");
  const fused = (useWasmPath(classWeights ? [logits, classWeights] : [logits]) ||
    (nativeKernels() !== null && float32)) && labels.dtype === "int32";
  const op = tf.customGrad((...args: (Tensor | tf.GradSaveFunc)[]) => {
    const [x, save] = args as [Tensor2D, tf.GradSaveFunc];
    const inputs: NamedTensorMap = classWeights
      ? { logits: x, labels, weights: classWeights }
      : { logits: x, labels };
    const [loss, probs] = fused
      ? runKernel<Tensor[]>(FORWARD_KERNEL, inputs)
      : tf.tidy(() => forwardOps(x, labels, classWeights));
    // Labels and weights too: the caller's tidy may free them before the backward pass runs.
    save(classWeights ? [probs, labels, classWeights] : [probs, labels]);
    return {
      value: loss as Scalar,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [p, y, w] = saved as [Tensor2D, Tensor1D, Tensor1D?];
        if (!fused) return tf.tidy(() => backwardOps(dy, p, y, w));
        const named: NamedTensorMap = w
          ? { dy, probs: p, labels: y, weights: w }
          : { dy, probs: p, labels: y };
        return tf.engine().runKernel(BACKWARD_KERNEL, named) as Tensor;
      },
    };
  });
  return op(logits) as Scalar;
}
