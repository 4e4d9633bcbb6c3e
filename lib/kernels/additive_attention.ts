/**
 * Bahdanau's additive attention (d2l §11.4) after its two projections, as one
 * differentiable op: for each query row `n` (of batch row `b`),
 *
 *   s[n, k] = w_v . tanh(q[n] + k_proj[b, k]),   a[n] = masked softmax of s[n],
 *   context[n] = sum_k a[n, k] values[b, k],
 *
 * with the weights exactly 0 at and past each row's length.
 *
 * Why one op: with tf ops a decoder step's attention is about ten kernels
 * forward and twenty back, the largest a tanh over `[B, Q, K, h]`
 * (`128 x 9 x 256` in d2l's setup) that tfjs's cpu backend runs in
 * JavaScript element by element, every step. On the native backend each
 * direction is one C call (`_native_attention.ts`); on every other backend
 * the same formula runs as tf ops, differentiated by tfjs's autograd (the
 * numbers `additiveAttention()` gave before this op existed).
 *
 * @module
 */
import type { GradSaveFunc, Tensor, Tensor1D, Tensor2D, Tensor3D } from "../ops/tensors.ts";
import { tf } from "../tf.ts";
import { matMul } from "../ops/matmul.ts";
import { tidy } from "../ops/tidy.ts";
import { NATIVE_BACKEND, nativeKernels } from "../native/backend.ts";
import { nativeAttentionBackward, nativeAttentionForward } from "./_native_attention.ts";
import { registerKernelOnce } from "./_wasm_heap.ts";

const FORWARD_KERNEL = "RnnDenoAdditiveAttention";
const BACKWARD_KERNEL = "RnnDenoAdditiveAttentionGrad";

registerKernelOnce(NATIVE_BACKEND, FORWARD_KERNEL, nativeAttentionForward);
registerKernelOnce(NATIVE_BACKEND, BACKWARD_KERNEL, nativeAttentionBackward);

/** What {@linkcode projectedAdditiveAttention} returns: new tensors the caller disposes. */
export interface ProjectedAttentionResult {
  /** `[B*Q, v]`: each query row's weighted sum of the values. */
  context: Tensor2D;
  /** `[B*Q, K]`: the weights (zeros at and past each row's length). */
  weights: Tensor2D;
}

/** Throws unless the shapes fit `[B*Q, h]`, `[B, K, h]`, `[B, K, v]`, `[h, 1]`, `[B*Q]`. */
function checkShapes(
  query: Tensor2D,
  keys: Tensor3D,
  values: Tensor3D,
  wv: Tensor2D,
  lengths?: Tensor1D,
): void {
  const [N, h] = query.shape, [B, K] = keys.shape;
  const fits = query.rank === 2 && keys.rank === 3 && values.rank === 3 && wv.rank === 2 &&
    B > 0 && N % B === 0 && keys.shape[2] === h && values.shape[0] === B &&
    values.shape[1] === K && wv.shape[0] === h && wv.shape[1] === 1 &&
    (!lengths || (lengths.rank === 1 && lengths.shape[0] === N && lengths.dtype === "int32"));
  if (!fits) {
    throw new Error(
      `projectedAdditiveAttention: query [${query.shape}], keys [${keys.shape}], values ` +
        `[${values.shape}], w_v [${wv.shape}], lengths ${
          lengths ? `${lengths.dtype} [${lengths.shape}]` : "none"
        }; expected [B*Q, h], [B, K, h], [B, K, v], [h, 1], int32 [B*Q]`,
    );
  }
}

/**
 * The softmax over the last axis of `scores` `[B, Q, K]` within each row's
 * length (`lengths` float32 `[B, 1 or Q, 1]`): exactly 0 at `k >= length`,
 * all zeros for a row of length 0. The tf-ops masked softmax that
 * `maskedSoftmax()` (lib/layers) and this op's fallback share.
 *
 * @returns the weights `[B, Q, K]`, a new tensor the caller disposes.
 *
 * @example The third key is padding
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const w = softmaxWithinLengths(tf.zeros([1, 1, 3]) as tf.Tensor3D, tf.tensor3d([[[2]]]));
 * deepStrictEqual(Array.from(await w.data()), [0.5, 0.5, 0]);
 * ```
 */
export function softmaxWithinLengths(scores: Tensor3D, lengths: Tensor3D): Tensor3D {
  const K = scores.shape[2];
  return tf.tidy(() => {
    const mask = tf.cast(tf.less(tf.range(0, K, 1, "float32"), lengths), "float32"); // [B, 1 or Q, K]
    // Masked scores become -1e9 whatever they held (finite garbage included);
    // real ones stay exact: s * 1 + 0.
    const masked = tf.add(tf.mul(scores, mask), tf.mul(tf.sub(mask, 1), 1e9)); // [B, Q, K]
    // The softmax leaves e^-1e9 = 0 on masked keys; the mask makes that exact,
    // and zeroes rows with no valid key (which the softmax spreads evenly).
    return tf.mul(tf.softmax(masked), mask) as Tensor3D;
  });
}

/** The formula as tf ops, for every backend but native. */
function attentionOps(
  query: Tensor2D,
  keys: Tensor3D,
  values: Tensor3D,
  wv: Tensor2D,
  lengths?: Tensor1D,
): ProjectedAttentionResult {
  const [N, h] = query.shape, [B, K] = keys.shape, Q = N / B, V = values.shape[2];
  const q = tf.reshape(query, [B, Q, 1, h]);
  const k = tf.expandDims(keys, 1); // [B, 1, K, h]
  const features = tf.reshape(tf.tanh(tf.add(q, k)), [B * Q * K, h]) as Tensor2D;
  const scores = tf.reshape(matMul(features, wv), [B, Q, K]) as Tensor3D;
  const weights = lengths
    ? softmaxWithinLengths(scores, tf.reshape(tf.cast(lengths, "float32"), [B, Q, 1]))
    : tf.softmax(scores) as Tensor3D;
  const context = matMul(weights, values); // [B, Q, v]
  return {
    context: tf.reshape(context, [N, V]) as Tensor2D,
    weights: tf.reshape(weights, [N, K]) as Tensor2D,
  };
}

/** The native op: one C call each way, context and weights packed in one value `[B*Q, v + K]`. */
function attentionNative(
  query: Tensor2D,
  keys: Tensor3D,
  values: Tensor3D,
  wv: Tensor2D,
  lengths?: Tensor1D,
): ProjectedAttentionResult {
  const [N] = query.shape, K = keys.shape[1], V = values.shape[2];
  const lens = lengths ?? tf.fill([N], K, "int32") as Tensor1D;
  const op = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const save = args.pop() as GradSaveFunc;
    const [q, k, v, w] = args as Tensor[];
    const inputs = { query: q, keys: k, values: v, wv: w, lengths: lens };
    const out = tf.engine().runKernel(FORWARD_KERNEL, inputs) as Tensor2D;
    // The lengths too: the caller's tidy may free them before the backward pass runs.
    save([q, k, v, w, lens, out]);
    return {
      value: out,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [query, keys, values, wv, lengths, out] = saved;
        const named = { query, keys, values, wv, lengths, out, dy };
        return tf.engine().runKernel(BACKWARD_KERNEL, named) as Tensor[];
      },
    };
  });
  const [context, weights] = tf.split(op(query, keys, values, wv), [V, K], 1) as Tensor2D[];
  return { context, weights };
}

/**
 * Additive attention from projected queries and keys: the scores
 * `w_v . tanh(q + k)`, the softmax over each row's first `lengths[n]` keys,
 * the weighted sum of the values. Differentiable in query, keys, values and
 * `w_v`; one C call each way on the native backend, tf ops elsewhere.
 *
 * @param query `[B*Q, h]`: the queries through `W_q`, the `Q` rows of each
 *   batch row together.
 * @param keys `[B, K, h]`: the keys through `W_k`.
 * @param values `[B, K, v]`.
 * @param wv `[h, 1]`.
 * @param lengths int32 `[B*Q]`: real keys per query row (values past `[0, K]`
 *   act as clamped); every key when omitted.
 * @returns the context `[B*Q, v]` and the weights `[B*Q, K]` (none of the inputs disposed).
 * @throws {Error} for shapes that do not fit.
 *
 * @example Two keys, the second one padding: all the weight on the first
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const query = tf.zeros([1, 3]) as tf.Tensor2D, keys = tf.ones([1, 2, 3]) as tf.Tensor3D;
 * const values = tf.tensor3d([[[1, 2], [30, 40]]]), wv = tf.ones([3, 1]) as tf.Tensor2D;
 * const lengths = tf.tensor1d([1], "int32");
 * const { context, weights } = projectedAdditiveAttention(query, keys, values, wv, lengths);
 * deepStrictEqual(Array.from(await context.data()), [1, 2]);
 * deepStrictEqual(Array.from(await weights.data()), [1, 0]);
 * ```
 */
export function projectedAdditiveAttention(
  query: Tensor2D,
  keys: Tensor3D,
  values: Tensor3D,
  wv: Tensor2D,
  lengths?: Tensor1D,
): ProjectedAttentionResult {
  checkShapes(query, keys, values, wv, lengths);
  const native = nativeKernels() !== null &&
    [query, keys, values, wv].every((t) => t.dtype === "float32");
  return tidy(() =>
    native
      ? attentionNative(query, keys, values, wv, lengths)
      : attentionOps(query, keys, values, wv, lengths)
  );
}
