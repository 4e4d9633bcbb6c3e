/**
 * Perplexity of a language model on a sequence of token ids: the exponential
 * of the mean cross-entropy per predicted token, state carried through the
 * whole sequence.
 *
 * @module
 */
import { tidy } from "../ops/tidy.ts";
import { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import { crossEntropy, type LanguageModel, timeMajor } from "./model.ts";
import { disposeStates } from "../cells/state.ts";
import type { State } from "../cells/types.ts";

/** Token ids that can be read in pieces (a corpus split, in memory or on disk). */
export interface ReadableIds {
  /** Number of ids. */
  readonly length: number;
  /** Reads `count` ids from `start`. */
  read(start: number, count: number): Int32Array;
}

/** Options of {@linkcode evaluatePerplexity}. */
export interface EvaluateOptions {
  /** Parallel rows the sequence is cut into. @default 32 */
  batchSize?: number;
  /** Steps per forward call. @default 35 */
  numSteps?: number;
}

/** What {@linkcode evaluatePerplexity} measured. */
export interface Evaluation {
  /** exp(mean negative log-likelihood per predicted token). */
  perplexity: number;
  /** Mean negative log-likelihood per predicted token, in nats. */
  loss: number;
  /** Number of predicted tokens. */
  tokens: number;
}

/**
 * Measures perplexity deterministically: the ids are cut into `batchSize`
 * contiguous rows from the start (fewer rows for a short sequence), read in
 * windows of `numSteps` (the last window shorter), with the state carried.
 * However large `batchSize`, one forward call reads at most about 8,192
 * tokens: more rows run as groups one after the other (same result).
 *
 * @throws {UsageError} when there are fewer than two tokens.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { LanguageModel, modelConfig } from "./model.ts";
 * const model = new LanguageModel(modelConfig({ vocabSize: 3, cell: "gru", hiddenSize: 4 }));
 * const ids = Int32Array.of(0, 1, 2, 0, 1, 2, 0, 1, 2);
 * const source = { length: ids.length, read: (s: number, n: number) => ids.slice(s, s + n) };
 * const { perplexity } = await evaluatePerplexity(model, source, { batchSize: 2, numSteps: 2 });
 * ok(Math.abs(perplexity - 3) < 0.1); // untrained: about uniform over 3 tokens
 * model.dispose();
 * ```
 */
export async function evaluatePerplexity(
  model: LanguageModel,
  ids: ReadableIds,
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  const { numSteps = 35 } = options;
  if (ids.length < 2) {
    throw new UsageError(
      `Cannot evaluate perplexity: the sequence has ${ids.length} token(s), expected at least 2`,
    );
  }
  const allRows = Math.max(1, Math.min(options.batchSize ?? 32, Math.floor((ids.length - 1) / 2)));
  const rowLength = Math.floor((ids.length - 1) / allRows); // predicted tokens per row
  // Rows are independent (each carries its own state), so a huge --batch-size
  // runs as groups of rows, bounding one forward call's memory; the default
  // 32 x 35 is one group, as before.
  const groupRows = Math.max(1, Math.floor(MAX_TOKENS_PER_CALL / Math.min(numSteps, rowLength)));
  let lossSum = tf.scalar(0);
  let tokens = 0;
  for (let first = 0; first < allRows; first += groupRows) {
    const rows = Math.min(groupRows, allRows - first);
    const group = evaluateRows(model, ids, { first, rows, rowLength, numSteps }, lossSum);
    lossSum = group.lossSum;
    tokens += group.tokens;
  }
  const loss = (await lossSum.data())[0] / tokens;
  lossSum.dispose();
  return { perplexity: Math.exp(loss), loss, tokens };
}

/** Tokens one forward call of {@linkcode evaluatePerplexity} reads at most (when rows allow). */
const MAX_TOKENS_PER_CALL = 8192;

/** Adds the summed loss of `rows` rows from row `first` to `lossSum` (disposed). */
function evaluateRows(
  model: LanguageModel,
  ids: ReadableIds,
  shape: { first: number; rows: number; rowLength: number; numSteps: number },
  lossSum: tf.Scalar,
): { lossSum: tf.Scalar; tokens: number } {
  const { first, rows, rowLength, numSteps } = shape;
  let state: State[] | undefined;
  let tokens = 0;
  for (let start = 0; start < rowLength; start += numSteps) {
    const steps = Math.min(numSteps, rowLength - start);
    const x = new Int32Array(rows * steps);
    const y = new Int32Array(rows * steps);
    for (let r = 0; r < rows; r++) {
      const window = ids.read((first + r) * rowLength + start, steps + 1);
      x.set(window.subarray(0, steps), r * steps);
      y.set(window.subarray(1, steps + 1), r * steps);
    }
    const next = tidy((): { total: tf.Scalar; final: State[] } => {
      const batch = { x, batchSize: rows, numSteps: steps };
      const { logits, state: final } = model.forward(batch, { state });
      const loss = crossEntropy(logits, timeMajor(y, rows, steps));
      const total = tf.add(lossSum, tf.mul(loss, rows * steps)) as tf.Scalar;
      return { total, final };
    });
    lossSum.dispose();
    disposeStates(state);
    lossSum = next.total;
    state = next.final;
    tokens += rows * steps;
  }
  disposeStates(state);
  return { lossSum, tokens };
}
