/**
 * Private pieces of the encoder-decoder: the masked token loss and the
 * decoder step options.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { LossResult } from "../training/model.ts";
import type { PairBatch } from "./data.ts";

/**
 * Mean cross-entropy over the real target tokens: logits `[T, B, V]` against
 * `batch.targetOutput` `[B, T]`, steps `t >= targetLengths[b]` left out
 * (d2l's mask on `<pad>` labels).
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
  const loss = tf.tidy(() => {
    const logp = tf.logSoftmax(tf.reshape(logits, [T * B, V])); // [T*B, V]
    const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(labels, "int32"), V)), 1); // [T*B]
    return tf.div(tf.neg(tf.sum(tf.mul(picked, tf.tensor1d(mask)))), count) as tf.Scalar;
  });
  return { loss, count };
}

/** The step options passed to the decoder stack. */
export function stepOptions(options: { training?: boolean; seed?: number }) {
  return { training: options.training ?? false, seed: options.seed };
}
