/**
 * Private pieces of the encoder-decoder: the masked token loss and the
 * splitting of a flat weight record.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import type { NamedWeights } from "../cells/types.ts";
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

/** A flat weight record split by owner, every key checked. */
export function splitNamed(
  named: Record<string, tf.Tensor>,
  plain: readonly string[],
  hasAttention: boolean,
): {
  encoder: Record<string, NamedWeights>;
  decoder: Record<string, NamedWeights>;
  attention: Record<string, tf.Tensor>;
} {
  const encoder: Record<string, NamedWeights> = {};
  const decoder: Record<string, NamedWeights> = {};
  const attention: Record<string, tf.Tensor> = {};
  for (const [key, tensor] of Object.entries(named)) {
    const rnn = /^(encoder|decoder)\/rnn\/([^/]+)\/(.+)$/.exec(key);
    const att = /^decoder\/attention\/(W_q|W_k|w_v)$/.exec(key);
    if (rnn) ((rnn[1] === "encoder" ? encoder : decoder)[rnn[2]] ??= {})[rnn[3]] = tensor;
    else if (att && hasAttention) attention[att[1]] = tensor;
    else if (!plain.includes(key)) {
      throw new UsageError(`Cannot load weights: unexpected key "${key}" for this model`);
    }
  }
  for (const key of plain) {
    if (!(key in named)) throw new UsageError(`Cannot load weights: missing key "${key}"`);
  }
  return { encoder, decoder, attention };
}
