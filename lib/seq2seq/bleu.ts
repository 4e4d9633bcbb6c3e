/**
 * Translation metrics: BLEU as d2l defines it (§10.7, per sentence, for its
 * examples), standard corpus BLEU-4 (Papineni et al. 2002: clipped n-gram
 * precisions summed over the corpus, their geometric mean, times the brevity
 * penalty), and exact match.
 *
 * @module
 */

/**
 * d2l's `bleu(pred_seq, label_seq, k)`: `exp(min(0, 1 - len_label / len_pred))`
 * times `p_n ^ (1 / 2^n)` for n = 1 .. min(k, len_pred), where p_n is the
 * clipped n-gram precision. Sequences are split on single spaces as in d2l
 * (so an empty prediction is one empty token).
 *
 * @param prediction the predicted tokens joined by spaces.
 * @param label the reference tokens joined by spaces.
 * @param k the largest n-gram.
 *
 * @example d2l's examples
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(d2lBleu("va !", "va !", 2), 1);
 * strictEqual(d2lBleu("il est .", "il est calme .", 2).toFixed(4), "0.6025");
 * ```
 */
export function d2lBleu(prediction: string, label: string, k: number): number {
  const pred = prediction.split(" ");
  const ref = label.split(" ");
  let score = Math.exp(Math.min(0, 1 - ref.length / pred.length));
  for (let n = 1; n <= Math.min(k, pred.length); n++) {
    const counts = ngramCounts(ref, n);
    let matches = 0;
    for (let i = 0; i + n <= pred.length; i++) {
      const key = pred.slice(i, i + n).join("\u0000");
      const left = counts.get(key) ?? 0;
      if (left > 0) {
        matches++;
        counts.set(key, left - 1);
      }
    }
    score *= Math.pow(matches / (pred.length - n + 1), Math.pow(0.5, n));
  }
  return score;
}

/** What {@linkcode corpusBleu} returns. */
export interface CorpusBleu {
  /** BLEU in [0, 1]. */
  bleu: number;
  /** Clipped n-gram precision for n = 1 .. maxN. */
  precisions: number[];
  /** `min(1, exp(1 - r / c))`. */
  brevityPenalty: number;
  /** c, the hypothesis tokens. */
  hypothesisLength: number;
  /** r, the reference tokens. */
  referenceLength: number;
}

/**
 * Corpus BLEU with one reference per sentence: for each n, clipped matches
 * and hypothesis n-grams are summed over all sentences; BLEU is
 * `BP * exp(mean_n log p_n)` with `BP = min(1, exp(1 - r / c))`. Any zero
 * precision gives 0 (no smoothing).
 *
 * @param hypotheses token lists, one per sentence.
 * @param references token lists, one per sentence.
 * @param maxN the largest n-gram. @default 4
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const same = [["the", "cat", "is", "on", "the", "mat"]];
 * strictEqual(corpusBleu(same, same).bleu, 1);
 * strictEqual(corpusBleu([["a", "b"]], [["a", "b", "c", "d"]], 2).brevityPenalty, Math.exp(-1));
 * ```
 */
export function corpusBleu(
  hypotheses: readonly (readonly string[])[],
  references: readonly (readonly string[])[],
  maxN = 4,
): CorpusBleu {
  if (hypotheses.length !== references.length) {
    throw new RangeError(
      `Cannot score BLEU: ${hypotheses.length} hypotheses and ${references.length} references`,
    );
  }
  const matches = new Array(maxN).fill(0);
  const totals = new Array(maxN).fill(0);
  let c = 0, r = 0;
  for (let s = 0; s < hypotheses.length; s++) {
    const hyp = hypotheses[s], ref = references[s];
    c += hyp.length;
    r += ref.length;
    for (let n = 1; n <= maxN; n++) {
      const refCounts = ngramCounts(ref, n);
      for (const [key, count] of ngramCounts(hyp, n)) {
        matches[n - 1] += Math.min(count, refCounts.get(key) ?? 0);
        totals[n - 1] += count;
      }
    }
  }
  const precisions = matches.map((m, i) => totals[i] > 0 ? m / totals[i] : 0);
  const brevityPenalty = c === 0 ? 0 : Math.min(1, Math.exp(1 - r / c));
  const logMean = precisions.some((p) => p === 0)
    ? -Infinity
    : precisions.reduce((sum, p) => sum + Math.log(p), 0) / maxN;
  return {
    bleu: brevityPenalty * Math.exp(logMean),
    precisions,
    brevityPenalty,
    hypothesisLength: c,
    referenceLength: r,
  };
}

/**
 * The fraction of sentences whose tokens equal the reference exactly.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(exactMatch([["a"], ["b", "c"]], [["a"], ["b"]]), 0.5);
 * ```
 */
export function exactMatch(
  hypotheses: readonly (readonly string[])[],
  references: readonly (readonly string[])[],
): number {
  if (hypotheses.length === 0) return 0;
  let same = 0;
  for (let s = 0; s < hypotheses.length; s++) {
    const h = hypotheses[s], r = references[s];
    if (h.length === r.length && h.every((t, i) => t === r[i])) same++;
  }
  return same / hypotheses.length;
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join("\u0000");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}
