import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { Rng } from "../../lib/rng.ts";
import { UsageError } from "../../lib/errors.ts";
import {
  classificationMetrics,
  confusionMatrix,
  metricsTable,
} from "../../lib/classify/metrics.ts";

const close = (a: number, b: number, tol = 1e-12) => ok(Math.abs(a - b) <= tol, `${a} is not ${b}`);

Deno.test("classificationMetrics() gives scikit-learn's documented values", () => {
  // sklearn.metrics.f1_score docs: y_true [0,1,2,0,1,2], y_pred [0,2,1,0,0,1] -> macro F1 0.26666...
  const m = classificationMetrics([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1], 3);
  close(m.macroF1, 0.8 / 3);
  close(m.accuracy, 1 / 3);
  deepStrictEqual(m.perLabel.map((l) => l.support), [2, 2, 2]);
  // sklearn.metrics.balanced_accuracy_score docs: [0,1,0,0,1,0] vs [0,1,0,0,0,1] -> 0.625
  close(classificationMetrics([0, 1, 0, 0, 1, 0], [0, 1, 0, 0, 0, 1], 2).balancedAccuracy, 0.625);
});

/** The definitions again, written out per example rather than from the confusion matrix. */
function reference(truth: number[], pred: number[], L: number) {
  const labels = [...Array(L).keys()];
  const count = (f: (i: number) => boolean) => truth.filter((_, i) => f(i)).length;
  const per = labels.map((k) => {
    const tp = count((i) => truth[i] === k && pred[i] === k);
    const fp = count((i) => truth[i] !== k && pred[i] === k);
    const fn = count((i) => truth[i] === k && pred[i] !== k);
    const p = tp + fp === 0 ? 0 : tp / (tp + fp);
    const r = tp + fn === 0 ? 0 : tp / (tp + fn);
    return {
      p,
      r,
      f1: p + r === 0 ? 0 : 2 * p * r / (p + r),
      support: tp + fn,
    };
  });
  // Every macro average over the labels present in the truth (issue 21, item 8).
  const present = per.filter((x) => x.support > 0);
  const mean = (key: "p" | "r" | "f1") => present.reduce((s, x) => s + x[key], 0) / present.length;
  return {
    accuracy: count((i) => truth[i] === pred[i]) / truth.length,
    balanced: mean("r"),
    macroF1: mean("f1"),
    macroPrecision: mean("p"),
    per,
  };
}

Deno.test("classificationMetrics() matches the per-example definitions on random unbalanced data", () => {
  const rng = new Rng(5);
  for (let trial = 0; trial < 20; trial++) {
    const L = 2 + rng.int(6);
    const n = 1 + rng.int(60);
    // Skewed labels, and a label that never occurs in truth on some trials.
    const truth = Array.from({ length: n }, () => Math.min(L - 1, Math.floor(rng.next() ** 2 * L)));
    const pred = truth.map((t) => rng.next() < 0.6 ? t : rng.int(L));
    const m = classificationMetrics(truth, pred, L);
    const r = reference(truth, pred, L);
    close(m.accuracy, r.accuracy);
    close(m.balancedAccuracy, r.balanced);
    close(m.macroF1, r.macroF1);
    close(m.macroPrecision, r.macroPrecision);
    close(m.macroRecall, r.balanced);
    m.perLabel.forEach((x, k) => {
      close(x.precision, r.per[k].p);
      close(x.recall, r.per[k].r);
      close(x.f1, r.per[k].f1);
      strictEqual(x.support, r.per[k].support);
    });
    strictEqual(m.confusion.flat().reduce((a, b) => a + b, 0), n);
  }
});

Deno.test("confusionMatrix() puts true labels on rows and rejects bad ids", () => {
  deepStrictEqual(confusionMatrix([1, 1, 0], [0, 1, 0], 2), [[1, 0], [1, 1]]);
  throws(() => confusionMatrix([2], [0], 2), UsageError);
  throws(() => confusionMatrix([0, 1], [0], 2), /1 predictions for 2 examples/);
  throws(() => classificationMetrics([], [], 2), /no examples/);
});

Deno.test("metricsTable() has one row per label and a macro row", () => {
  const table = metricsTable(classificationMetrics([0, 1, 1], [0, 1, 0], 2), ["Arabic", "Dutch"]);
  const lines = table.split("\n");
  strictEqual(lines.length, 4);
  ok(lines[2].startsWith("Dutch") && lines[3].startsWith("macro"));
});

Deno.test("a label with no test examples: macro precision, recall and F1 agree (issue 21, item 8)", () => {
  // Label 1 never occurs in the truth but is predicted once: before, macro-F1
  // counted it (a 0) while the table's macro precision averaged all 3 labels.
  const m = classificationMetrics([0, 0, 2, 2], [0, 1, 2, 2], 3);
  close(m.macroPrecision, (1 + 1) / 2);
  close(m.macroRecall, (0.5 + 1) / 2);
  close(m.macroF1, (2 / 3 + 1) / 2);
  const table = metricsTable(m, ["a", "b", "c"]).split("\n");
  deepStrictEqual(table.at(-2)!.split(/\s+/).slice(1, 4).map(Number), [1, 0.75, 0.833]);
  strictEqual(table.at(-1), "(macro: the mean over the 2 of 3 labels with examples)");
});
