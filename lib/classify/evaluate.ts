/**
 * Running a trained classifier: scores on a split (loss and every metric),
 * and top-k predictions for new text.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import type { Vocab } from "../corpus/vocab.ts";
import { encodeLabelled, type LabelledBatch, labelledBatch } from "../supervised/labelled.ts";
import type { SequenceClassifier } from "./model.ts";
import { type ClassificationMetrics, classificationMetrics } from "./metrics.ts";

/** What {@linkcode evaluateClassifier} returns. */
export interface ClassifierScores extends ClassificationMetrics {
  /** Mean cross-entropy per example (unweighted). */
  loss: number;
  /** The predicted label of every example, in batch order. */
  predicted: number[];
  /** The true label of every example, in batch order. */
  truth: number[];
}

/**
 * Scores a classifier on some batches: mean loss and every metric.
 *
 * @throws {UsageError} for no batches.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { labelledBatch } from "../supervised/labelled.ts";
 * import { classifierConfig, SequenceClassifier } from "./model.ts";
 * const model = new SequenceClassifier(classifierConfig({ vocabSize: 6, numLabels: 2, hiddenSize: 3 }));
 * const scores = await evaluateClassifier(model, [labelledBatch([Int32Array.of(4, 5)], [1], 1)]);
 * ok(scores.examples === 1 && scores.loss > 0);
 * model.dispose();
 * ```
 */
export async function evaluateClassifier(
  model: SequenceClassifier,
  batches: Iterable<LabelledBatch>,
): Promise<ClassifierScores> {
  const predicted: number[] = [], truth: number[] = [];
  let lossSum = 0;
  for (const batch of batches) {
    const [logp, best] = tf.tidy(() => {
      const l = tf.logSoftmax(model.logits(batch)); // [B, L]
      const picked = tf.sum(tf.mul(l, tf.oneHot(tf.tensor1d(batch.labels, "int32"), l.shape[1])));
      return [picked, tf.argMax(l, 1)];
    });
    lossSum -= (await logp.data())[0];
    predicted.push(...await best.data());
    truth.push(...batch.labels);
    tf.dispose([logp, best]);
  }
  if (truth.length === 0) throw new UsageError("Cannot evaluate the classifier: no examples");
  const metrics = classificationMetrics(truth, predicted, model.config.numLabels);
  return { ...metrics, loss: lossSum / truth.length, predicted, truth };
}

/** One label and its probability. */
export interface LabelScore {
  /** The label's name. */
  label: string;
  /** Its softmax probability, 0-1. */
  probability: number;
}

/** Options of {@linkcode predictLabels}. */
export interface PredictOptions {
  /** How many labels per text, most likely first. @default 3 */
  topK?: number;
  /** Fold accents as training did. @default false */
  foldAccents?: boolean;
}

/**
 * The most likely labels of each text.
 *
 * @param labels the label names, by id.
 * @returns per text, its `topK` labels with their probabilities.
 * @throws {UsageError} for a text with tokens outside the vocabulary (all named) or no tokens.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { labelledVocab } from "../supervised/labelled.ts";
 * import { classifierConfig, SequenceClassifier } from "./model.ts";
 * const vocab = labelledVocab(["ab"]);
 * const model = new SequenceClassifier(classifierConfig({ vocabSize: vocab.size, numLabels: 2, hiddenSize: 3 }));
 * const [top] = await predictLabels(model, vocab, ["x", "y"], ["ba"], { topK: 2 });
 * strictEqual(top.length, 2);
 * model.dispose();
 * ```
 */
export async function predictLabels(
  model: SequenceClassifier,
  vocab: Vocab,
  labels: readonly string[],
  texts: readonly string[],
  options: PredictOptions = {},
): Promise<LabelScore[][]> {
  const topK = Math.min(options.topK ?? 3, labels.length);
  const sequences = texts.map((text) =>
    encodeLabelled(vocab, text, {
      strict: true,
      foldAccents: options.foldAccents,
      action: "classify",
    })
  );
  const out: LabelScore[][] = [];
  for (let start = 0; start < sequences.length; start += 256) {
    const chunk = sequences.slice(start, start + 256);
    const probs = model.probabilities(labelledBatch(chunk, new Int32Array(chunk.length), 1));
    const values = await probs.data(); // [B, L]
    probs.dispose();
    const L = labels.length;
    for (let b = 0; b < chunk.length; b++) {
      const row = Array.from(values.subarray(b * L, (b + 1) * L), (p, id) => ({ p, id }));
      row.sort((x, y) => y.p - x.p);
      out.push(row.slice(0, topK).map(({ p, id }) => ({ label: labels[id], probability: p })));
    }
  }
  return out;
}
