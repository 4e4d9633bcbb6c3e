/**
 * The bookkeeping of one beam-search step, in plain JS: from the top
 * candidates of every sentence to the next live hypotheses, the finished
 * ones set aside.
 *
 * @module
 */
import { EOS_ID, PAD_ID } from "../supervised/pairs.ts";

/** A translation. */
export interface Hypothesis {
  /** Target ids, without `<bos>` and `<eos>`. */
  ids: number[];
  /** Sum of the log-probabilities of its tokens (`<eos>` included when it ended). */
  score: number;
  /** `score / lp(n)`, the ranking score (see the length penalty). */
  normalized: number;
  /** Per output token, the attention weights over the source tokens (`<eos>` included). */
  weights?: number[][];
}

/** A live hypothesis: one row of the decoder batch. */
export interface BeamRow {
  ids: number[];
  score: number;
  weights?: number[][];
}

/** GNMT's length penalty `((5 + n) / 6)^alpha`. */
export function lengthPenalty(n: number, alpha: number): number {
  return alpha === 0 ? 1 : Math.pow((5 + n) / 6, alpha);
}

/** What one step needs. */
export interface BeamStepInput {
  rows: BeamRow[];
  /** `[B, C]` candidate totals, best first. */
  values: ArrayLike<number>;
  /** `[B, C]` candidate indices `k * V + token`. */
  indices: ArrayLike<number>;
  V: number;
  K: number;
  step: number;
  limits: number[];
  done: boolean[];
  finished: Hypothesis[][];
  o: { lengthPenalty: number; beam: number };
  S: number;
  /** `[B*K, S]` attention weights of this step, when recorded. */
  weights?: ArrayLike<number>;
  sourceLengths: number[];
}

/** Advances every sentence's beam by one token; marks sentences done. */
export function beamStep(
  input: BeamStepInput,
): { rows: BeamRow[]; parents: Int32Array; tokens: Int32Array } {
  const { rows, values, indices, V, K, step, limits, done, finished, o, S, weights } = input;
  const B = done.length, C = values.length / B;
  const next: BeamRow[] = [];
  const parents = new Int32Array(B * K), tokens = new Int32Array(B * K).fill(PAD_ID);
  const norm = (h: { ids: number[]; score: number }, n: number) =>
    h.score / lengthPenalty(n, o.lengthPenalty);
  for (let b = 0; b < B; b++) {
    const live: BeamRow[] = [];
    if (!done[b]) {
      for (let c = 0; c < C && live.length < K; c++) {
        const total = values[b * C + c];
        if (total === -Infinity) break;
        const k = Math.floor(indices[b * C + c] / V), token = indices[b * C + c] % V;
        const parent = rows[b * K + k];
        const w = weights && parent.weights
          ? [
            ...parent.weights,
            Array.from({ length: input.sourceLengths[b] }, (_, s) => weights[(b * K + k) * S + s]),
          ]
          : undefined;
        if (token === EOS_ID) {
          if (finished[b].length < K) {
            const h: Hypothesis = { ids: parent.ids, score: total, normalized: 0, weights: w };
            h.normalized = norm(h, h.ids.length + 1);
            finished[b].push(h);
          }
          continue;
        }
        live.push({ ids: [...parent.ids, token], score: total, weights: w });
        parents[b * K + live.length - 1] = b * K + k;
        tokens[b * K + live.length - 1] = token;
      }
      if (finished[b].length >= K) done[b] = true;
      else if (step + 1 >= limits[b]) {
        for (const h of live) {
          finished[b].push({
            ids: h.ids,
            score: h.score,
            normalized: norm(h, h.ids.length),
            weights: h.weights,
          });
        }
        done[b] = true;
      }
    }
    for (let k = 0; k < K; k++) {
      const row = live[k];
      if (row === undefined || done[b]) {
        next.push({ ids: [], score: -Infinity });
        parents[b * K + k] = b * K;
      } else next.push(row);
    }
  }
  return { rows: next, parents, tokens };
}
