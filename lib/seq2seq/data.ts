/**
 * Pairs as ids, their train/validation split and their minibatches.
 *
 * A batch holds the source ids with `<eos>` appended and padded with `<pad>`
 * to the longest source of the batch, the lengths, and the target twice:
 * the decoder's input (`<bos> y1 ... yn`, teacher forcing) and the labels
 * (`y1 ... yn <eos>`), padded to the longest target. Batches are bucketed by
 * length (sorted within pools of a few batches, then the batches shuffled)
 * so padding stays small. d2l's fixed `num_steps` (cut or pad every side to
 * exactly that many steps) is there for parity runs.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import type { Rng } from "../rng.ts";
import type { Vocab } from "../corpus/vocab.ts";
import { BOS_ID, EOS_ID, PAD_ID, type TokenizedPair } from "../supervised/pairs.ts";

/** A pair as ids, without `<eos>`. */
export interface EncodedPair {
  /** Source token ids, without `<eos>` (batches add it). */
  source: Int32Array;
  /** Target token ids, without `<eos>` (batches add it). */
  target: Int32Array;
}

/** One minibatch of pairs, row-major. */
export interface PairBatch {
  /** B. */
  batchSize: number;
  /** S, the source steps. */
  sourceSteps: number;
  /** T, the target steps. */
  targetSteps: number;
  /** `[B, S]`: ids, `<eos>`, then `<pad>`. */
  source: Int32Array;
  /** `[B]`: real source steps (`<eos>` included), each in `[1, S]`. */
  sourceLengths: Int32Array;
  /** `[B, T]`: `<bos>` then the target (teacher forcing). */
  targetInput: Int32Array;
  /** `[B, T]`: the target, `<eos>`, then `<pad>`. */
  targetOutput: Int32Array;
  /** `[B]`: labels that count in the loss (`<eos>` included). */
  targetLengths: Int32Array;
}

/**
 * Encodes tokenized pairs with the vocabularies (unknown tokens become `<unk>`).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { buildPairVocabs } from "../supervised/pairs.ts";
 * const pairs = [{ source: ["a", "b"], target: ["c"] }];
 * const vocabs = buildPairVocabs(pairs, { minFreq: 1 });
 * deepStrictEqual([...encodePairs(pairs, vocabs)[0].source], [4, 5]);
 * ```
 */
export function encodePairs(
  pairs: readonly TokenizedPair[],
  vocabs: { source: Vocab; target: Vocab },
): EncodedPair[] {
  return pairs.map((p) => ({
    source: vocabs.source.encode(p.source),
    target: vocabs.target.encode(p.target),
  }));
}

/** Options of {@linkcode splitPairs}. */
export interface SplitPairsOptions {
  /**
   * `d2l`: the first `numTrain` pairs train and the next `numValid` validate
   * (file order); `random`: a seeded shuffle, `validFraction` held out.
   * @default "random"
   */
  mode?: "d2l" | "random";
  /**
   * Training pairs to keep (the first ones).
   *
   * @default 512
   */
  numTrain?: number;
  /**
   * Validation pairs to keep.
   *
   * @default 128
   */
  numValid?: number;
  /**
   * Fraction held out for validation when `numValid` is not given.
   *
   * @default 0.1
   */
  validFraction?: number;
  /** Needed by `random`. */
  rng?: Rng;
}

/**
 * Splits items into a training and a validation part.
 *
 * @throws {UsageError} when either part would be empty.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const { train, valid } = splitPairs([1, 2, 3, 4, 5], { mode: "d2l", numTrain: 3, numValid: 1 });
 * deepStrictEqual([train, valid], [[1, 2, 3], [4]]);
 * ```
 */
export function splitPairs<T>(
  items: readonly T[],
  options: SplitPairsOptions = {},
): { train: T[]; valid: T[] } {
  const { mode = "random", numTrain = 512, numValid = 128, validFraction = 0.1 } = options;
  let train: T[], valid: T[];
  if (mode === "d2l") {
    train = items.slice(0, numTrain);
    valid = items.slice(numTrain, numTrain + numValid);
  } else {
    if (!(validFraction > 0 && validFraction < 1)) {
      throw new UsageError(
        `Cannot split the pairs: validFraction is ${validFraction}, expected (0, 1)`,
      );
    }
    const order = shuffled(items.length, options.rng);
    const nValid = Math.max(1, Math.round(items.length * validFraction));
    valid = order.slice(0, nValid).sort((a, b) => a - b).map((i) => items[i]);
    train = order.slice(nValid).sort((a, b) => a - b).map((i) => items[i]);
  }
  if (train.length === 0 || valid.length === 0) {
    throw new UsageError(
      `Cannot split the pairs: ${items.length} pairs give ${train.length} to train and ` +
        `${valid.length} to validate, expected both >= 1`,
    );
  }
  return { train, valid };
}

/** Options of {@linkcode pairBatches}. */
export interface PairBatchOptions {
  /** Pairs per batch (the last batch may be smaller). */
  batchSize: number;
  /** Shuffles the pairs and the batches; without it the order is fixed. */
  rng?: Rng;
  /** d2l's fixed length: cut or pad every side to exactly this many steps (no bucketing). */
  numSteps?: number;
  /** Sort by length within pools of this many batches (ignored with `numSteps`). @default 16 */
  bucketBatches?: number;
}

/**
 * Cuts pairs into minibatches, bucketed by length.
 *
 * @returns the batches of one epoch; with an `rng`, pairs and batches are shuffled.
 *
 * @example Two batches of sorted lengths
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const pair = (n: number) => ({ source: new Int32Array(n).fill(5), target: Int32Array.of(6) });
 * const batches = pairBatches([pair(3), pair(1), pair(2), pair(1)], { batchSize: 2 });
 * deepStrictEqual(batches.map((b) => b.sourceSteps), [2, 4]); // <eos> included
 * deepStrictEqual([...batches[1].sourceLengths], [3, 4]);
 * ```
 */
export function pairBatches(
  pairs: readonly EncodedPair[],
  options: PairBatchOptions,
): PairBatch[] {
  const { batchSize, rng, numSteps, bucketBatches = 16 } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new UsageError(
      `Cannot make pair batches: batchSize is ${batchSize}, expected an integer >= 1`,
    );
  }
  const order = shuffled(pairs.length, rng);
  if (numSteps === undefined) {
    const pool = batchSize * bucketBatches;
    for (let start = 0; start < order.length; start += pool) {
      const part = order.slice(start, start + pool);
      part.sort((a, b) =>
        pairs[a].source.length - pairs[b].source.length ||
        pairs[a].target.length - pairs[b].target.length
      );
      order.splice(start, part.length, ...part);
    }
  }
  const chunks: number[][] = [];
  for (let start = 0; start < order.length; start += batchSize) {
    chunks.push(order.slice(start, start + batchSize));
  }
  if (rng && numSteps === undefined) shuffleInPlace(chunks, rng);
  return chunks.map((chunk) => makePairBatch(chunk.map((i) => pairs[i]), { numSteps }));
}

/**
 * Builds one batch from pairs (see {@linkcode PairBatch}).
 *
 * @param options `numSteps` fixes both lengths as d2l does (cut, then pad).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const batch = makePairBatch([{ source: Int32Array.of(7, 8), target: Int32Array.of(9) }]);
 * deepStrictEqual([...batch.source], [7, 8, 3]); // <eos> = 3
 * deepStrictEqual([...batch.targetInput], [2, 9]); // <bos> = 2
 * deepStrictEqual([...batch.targetOutput], [9, 3]);
 * ```
 */
export function makePairBatch(
  pairs: readonly EncodedPair[],
  options: { numSteps?: number } = {},
): PairBatch {
  const B = pairs.length;
  if (B === 0) throw new UsageError("Cannot make a pair batch: no pairs, expected at least 1");
  const { numSteps } = options;
  const withEos = (ids: Int32Array) => {
    const all = [...ids, EOS_ID];
    return numSteps === undefined ? all : all.slice(0, numSteps);
  };
  const sources = pairs.map((p) => withEos(p.source));
  const targets = pairs.map((p) => withEos(p.target));
  const S = numSteps ?? Math.max(...sources.map((s) => s.length));
  const T = numSteps ?? Math.max(...targets.map((t) => t.length));
  const source = new Int32Array(B * S).fill(PAD_ID);
  const targetInput = new Int32Array(B * T).fill(PAD_ID);
  const targetOutput = new Int32Array(B * T).fill(PAD_ID);
  const sourceLengths = new Int32Array(B);
  const targetLengths = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    source.set(sources[b], b * S);
    sourceLengths[b] = sources[b].length;
    targetOutput.set(targets[b], b * T);
    targetLengths[b] = targets[b].length;
    targetInput[b * T] = BOS_ID;
    targetInput.set(targets[b].slice(0, T - 1), b * T + 1);
  }
  return {
    batchSize: B,
    sourceSteps: S,
    targetSteps: T,
    source,
    sourceLengths,
    targetInput,
    targetOutput,
    targetLengths,
  };
}

/**
 * The target tokens a batch's loss counts.
 *
 * @example Tokens the loss counts
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { makePairBatch, targetTokens } from "./data.ts";
 * const batch = makePairBatch([
 *   { source: Int32Array.of(7), target: Int32Array.of(9, 9) },
 *   { source: Int32Array.of(7), target: Int32Array.of(9) },
 * ]);
 * strictEqual(targetTokens(batch), 5); // each target and its <eos>
 * ```
 */
export function targetTokens(batch: PairBatch): number {
  return batch.targetLengths.reduce((a, b) => a + b, 0);
}

function shuffled(n: number, rng: Rng | undefined): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  if (rng) shuffleInPlace(order, rng);
  return order;
}

function shuffleInPlace<T>(items: T[], rng: Rng): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
}
