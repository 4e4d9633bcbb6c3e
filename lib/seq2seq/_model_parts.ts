/**
 * Private pieces of the encoder-decoder: the masked token loss and the
 * decoder step options.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { LossResult } from "../training/model.ts";
import type { PairBatch } from "./data.ts";
import { PAD_ID } from "../supervised/pairs.ts";
import { nativeKernels } from "../native/backend.ts";
import { softmaxCrossEntropy } from "../kernels/softmax_cross_entropy.ts";

/**
 * Mean cross-entropy over the real target tokens: logits `[T, B, V]` against
 * `batch.targetOutput` `[B, T]`, steps `t >= targetLengths[b]` left out
 * (d2l's mask on `<pad>` labels). On native, where the `<pad>` labels are
 * exactly those steps, one fused cross-entropy op with `<pad>` weighted 0.
 */
export function maskedTokenLoss(logits: tf.Tensor3D, batch: PairBatch): LossResult {
  const { batchSize: B, targetSteps: T } = batch;
  const [, , V] = logits.shape;
  let count = 0;
  const mask = new Float32Array(T * B); // [T, B]
  const labels = new Int32Array(T * B); // [T, B]
  for (let b = 0; b < B; b++) {
    count += batch.targetLengths[b];
    for (let t = 0; t < T; t++) {
      labels[t * B + b] = batch.targetOutput[b * T + t];
      if (t < batch.targetLengths[b]) mask[t * B + b] = 1;
    }
  }
  if (nativeKernels() !== null && paddingOnlyPastLengths(labels, mask)) {
    return { loss: paddingExcludedLoss(logits, labels, V), count };
  }
  const loss = tf.tidy(() => {
    const logp = tf.logSoftmax(tf.reshape(logits, [T * B, V])); // [T*B, V]
    const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(labels, "int32"), V)), 1); // [T*B]
    return tf.div(tf.neg(tf.sum(tf.mul(picked, tf.tensor1d(mask)))), count) as tf.Scalar;
  });
  return { loss, count };
}

/** Whether `<pad>` labels are exactly the masked positions (so a zero class weight masks them). */
function paddingOnlyPastLengths(labels: Int32Array, mask: Float32Array): boolean {
  for (let i = 0; i < labels.length; i++) {
    if ((labels[i] === PAD_ID) !== (mask[i] === 0)) return false;
  }
  return true;
}

/**
 * The same mean as the masked loss, as one fused op (one C call each way on
 * native, where the tf ops take about twenty cpu kernels): `<pad>` gets class
 * weight 0, every other class 1, so the weighted mean is the sum over real
 * tokens divided by their count.
 */
function paddingExcludedLoss(logits: tf.Tensor3D, labels: Int32Array, V: number): tf.Scalar {
  const weights = new Float32Array(V).fill(1);
  weights[PAD_ID] = 0;
  return tf.tidy(() =>
    softmaxCrossEntropy(
      tf.reshape(logits, [-1, V]) as tf.Tensor2D,
      tf.tensor1d(labels, "int32"),
      tf.tensor1d(weights),
    )
  );
}

/** The step options passed to the decoder stack. */
export function stepOptions(options: { training?: boolean; seed?: number }) {
  return { training: options.training ?? false, seed: options.seed };
}
