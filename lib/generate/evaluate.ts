/**
 * Scoring a conditioned generator on held-out sequences: per-token
 * perplexity and next-token accuracy (`<eos>` counted as a token, as the
 * PyTorchNLPBook's surname generator counts it).
 *
 * @module
 */
import { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import type { GeneratorBatch } from "./data.ts";
import type { ConditionedGenerator } from "./model.ts";

/** What {@linkcode evaluateGenerator} returns. */
export interface GeneratorScores {
  /** Mean negative log-likelihood per predicted token (nats). */
  loss: number;
  /** `exp(loss)`: the per-token (per-character) perplexity. */
  perplexity: number;
  /** Share of predicted tokens whose most likely next token is the true one. */
  accuracy: number;
  /** Predicted tokens counted (`<eos>` included). */
  tokens: number;
}

/**
 * Scores a generator on some batches.
 *
 * @throws {UsageError} for no batches.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { generatorBatch } from "./data.ts";
 * import { ConditionedGenerator, generatorConfig } from "./model.ts";
 * const model = new ConditionedGenerator(generatorConfig({ vocabSize: 7, numConditions: 2, hiddenSize: 3 }));
 * const scores = await evaluateGenerator(model, [generatorBatch([Int32Array.of(4, 5)], [1])]);
 * ok(scores.tokens === 3 && scores.perplexity > 1);
 * model.dispose();
 * ```
 */
export async function evaluateGenerator(
  model: ConditionedGenerator,
  batches: Iterable<GeneratorBatch>,
): Promise<GeneratorScores> {
  let nll = 0, tokens = 0, correct = 0;
  for (const batch of batches) {
    const { batchSize: B, numSteps: T } = batch;
    const [sum, hits] = tf.tidy(() => {
      const ids = tf.tensor2d(batch.inputs, [T, B], "int32");
      const { logits, state } = model.forward(ids, batch.conditions, { lengths: batch.lengths });
      tf.dispose(state.flatMap((s) => Object.values(s)));
      const targets = tf.tensor2d(batch.targets, [T, B], "int32");
      const mask = tf.less(
        tf.reshape(tf.range(0, T, 1, "int32"), [T, 1]),
        tf.reshape(tf.tensor1d(batch.lengths, "int32"), [1, B]),
      ); // [T, B] real steps
      const logp = tf.logSoftmax(logits); // [T, B, V]
      const picked = tf.sum(tf.mul(logp, tf.oneHot(targets, logits.shape[2])), 2); // [T, B]
      const real = tf.cast(mask, "float32");
      const right = tf.cast(tf.equal(tf.argMax(logits, 2), targets), "float32");
      return [tf.neg(tf.sum(tf.mul(picked, real))), tf.sum(tf.mul(right, real))];
    });
    nll += (await sum.data())[0];
    correct += (await hits.data())[0];
    tokens += batch.lengths.reduce((a, b) => a + b, 0);
    tf.dispose([sum, hits]);
  }
  if (tokens === 0) throw new UsageError("Cannot evaluate the generator: no sequences");
  return {
    loss: nll / tokens,
    perplexity: Math.exp(nll / tokens),
    accuracy: correct / tokens,
    tokens,
  };
}
