/**
 * Classification metrics from true and predicted label ids: accuracy,
 * balanced accuracy, macro-F1, per-label precision / recall / F1 / support,
 * and the confusion matrix. Plain JavaScript numbers, no tensors.
 *
 * Definitions (scikit-learn's, with `zero_division=0`):
 * - precision of label k = TP / (TP + FP), recall = TP / (TP + FN),
 *   F1 = 2PR / (P + R); a 0/0 is 0;
 * - every macro average (precision, recall, F1) and balanced accuracy
 *   (= macro recall) is the mean over the labels that occur in the truth
 *   (support > 0): a label with no examples in the scored split counts in
 *   none of them (predictions of it still cost the true labels their recall),
 *   so the macro row of a report is one consistent set of means.
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/** Precision, recall, F1 and support of one label. */
export interface LabelMetrics {
  /** True positives over predicted positives (0 when none were predicted). */
  precision: number;
  /** True positives over actual positives. */
  recall: number;
  /** Harmonic mean of precision and recall. */
  f1: number;
  /** How many examples truly have this label. */
  support: number;
}

/** What {@linkcode classificationMetrics} returns. */
export interface ClassificationMetrics {
  /** Share of examples predicted right. */
  accuracy: number;
  /** Mean per-label recall over the labels present in the truth. */
  balancedAccuracy: number;
  /** Mean per-label F1 over the labels present in the truth. */
  macroF1: number;
  /** Mean per-label precision over the labels present in the truth. */
  macroPrecision: number;
  /** Mean per-label recall over the labels present in the truth (= balanced accuracy). */
  macroRecall: number;
  /** Number of examples. */
  examples: number;
  /** One entry per label id. */
  perLabel: LabelMetrics[];
  /** `confusion[t][p]`: examples of true label t predicted as p. */
  confusion: number[][];
}

/**
 * Counts the confusion matrix.
 *
 * @param truth each example's true label id.
 * @param predicted each example's predicted label id.
 * @param numLabels L; every id must be in `[0, L)`.
 * @returns `[L][L]` counts, rows true labels, columns predictions.
 * @throws {UsageError} for lengths that differ or an id outside `[0, L)`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(confusionMatrix([0, 0, 1], [0, 1, 1], 2), [[1, 1], [0, 1]]);
 * ```
 */
export function confusionMatrix(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  numLabels: number,
): number[][] {
  if (truth.length !== predicted.length) {
    throw new UsageError(
      `Cannot score predictions: ${predicted.length} predictions for ${truth.length} examples, expected as many`,
    );
  }
  const matrix = Array.from({ length: numLabels }, () => new Array<number>(numLabels).fill(0));
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i], p = predicted[i];
    for (const id of [t, p]) {
      if (!Number.isInteger(id) || id < 0 || id >= numLabels) {
        throw new UsageError(
          `Cannot score predictions: label id ${id}, expected [0, ${numLabels})`,
        );
      }
    }
    matrix[t][p]++;
  }
  return matrix;
}

const ratio = (a: number, b: number) => b === 0 ? 0 : a / b;

/**
 * Every metric of a set of predictions.
 *
 * @param truth each example's true label id.
 * @param predicted each example's predicted label id.
 * @param numLabels L, the number of labels.
 * @throws {UsageError} for no examples, lengths that differ or an id outside `[0, L)`.
 *
 * @example Unbalanced: accuracy flatters, balanced accuracy does not
 * ```ts
 * import { strictEqual } from "node:assert";
 * const m = classificationMetrics([0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 1], 2);
 * strictEqual(m.accuracy, 5 / 6);
 * strictEqual(m.balancedAccuracy, (1 + 0.5) / 2);
 * strictEqual(m.perLabel[1].precision, 1);
 * strictEqual(m.perLabel[0].recall, 1);
 * ```
 *
 * @example A label with no examples in the truth counts in no macro average
 * ```ts
 * import { strictEqual } from "node:assert";
 * const m = classificationMetrics([0, 0], [0, 1], 3); // label 2 absent, label 1 predicted only
 * strictEqual(m.macroPrecision, 1); // label 0 only
 * strictEqual(m.macroRecall, 0.5);
 * strictEqual(m.macroF1, 2 / 3);
 * ```
 */
export function classificationMetrics(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  numLabels: number,
): ClassificationMetrics {
  if (truth.length === 0) throw new UsageError("Cannot score predictions: there are no examples");
  const confusion = confusionMatrix(truth, predicted, numLabels);
  const perLabel: LabelMetrics[] = [];
  let correct = 0, precisions = 0, recalls = 0, f1s = 0, present = 0;
  for (let k = 0; k < numLabels; k++) {
    const tp = confusion[k][k];
    const support = confusion[k].reduce((a, b) => a + b, 0);
    const predictedK = confusion.reduce((sum, row) => sum + row[k], 0);
    const precision = ratio(tp, predictedK);
    const recall = ratio(tp, support);
    const f1 = ratio(2 * precision * recall, precision + recall);
    perLabel.push({ precision, recall, f1, support });
    correct += tp;
    if (support > 0) {
      precisions += precision;
      recalls += recall;
      f1s += f1;
      present++;
    }
  }
  return {
    accuracy: correct / truth.length,
    balancedAccuracy: recalls / present,
    macroF1: f1s / present,
    macroPrecision: precisions / present,
    macroRecall: recalls / present,
    examples: truth.length,
    perLabel,
    confusion,
  };
}

/**
 * A plain-text table of the per-label metrics, one row per label and a
 * macro average, aligned for a terminal.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * const m = classificationMetrics([0, 1], [0, 0], 2);
 * ok(metricsTable(m, ["cat", "dog"]).includes("dog"));
 * ```
 */
export function metricsTable(metrics: ClassificationMetrics, labels: readonly string[]): string {
  const width = Math.max(5, ...labels.map((l) => l.length));
  const f = (x: number) => x.toFixed(3).padStart(9);
  const head = `${"label".padEnd(width)} precision    recall        f1   support`;
  const rows = metrics.perLabel.map((m, k) =>
    `${labels[k].padEnd(width)} ${f(m.precision)} ${f(m.recall)} ${f(m.f1)} ${
      String(m.support).padStart(9)
    }`
  );
  const macro = `${"macro".padEnd(width)} ${f(metrics.macroPrecision)} ${f(metrics.macroRecall)} ${
    f(metrics.macroF1)
  } ${String(metrics.examples).padStart(9)}`;
  const present = metrics.perLabel.filter((m) => m.support > 0).length;
  const note = present < metrics.perLabel.length
    ? [`(macro: the mean over the ${present} of ${metrics.perLabel.length} labels with examples)`]
    : [];
  return [head, ...rows, macro, ...note].join("\n");
}
