/**
 * Splitting labelled examples per label (stratified, seeded) and cutting them
 * into length-bucketed minibatches of padded, time-major ids. Re-exported by
 * `labelled.ts`.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { Rng } from "../rng.ts";

/** Options of {@linkcode stratifiedSplit}. */
export interface SplitOptions {
  /** Share of each label held out for validation (model selection). @default 0.1 */
  validFraction?: number;
  /** Share of each label held out for the final test. @default 0.1 */
  testFraction?: number;
  /** Seed of the shuffle within each label. @default 0 */
  seed?: number;
}

/** Example indices of the three splits, each sorted ascending. */
export interface StratifiedSplit {
  train: number[];
  valid: number[];
  test: number[];
}

/** What a run records of its split: enough to check or rebuild it. */
export interface SplitRecord {
  seed: number;
  validFraction: number;
  testFraction: number;
  /** Examples of each label in train, valid and test. */
  counts: number[][];
  /** The held-out example indices (train is every other index). */
  valid: number[];
  test: number[];
}

/**
 * Splits example indices per label: within each label the examples are
 * shuffled with a seeded generator, `round(n * testFraction)` go to test and
 * `round(n * validFraction)` to validation (at least one each when the label
 * has 3 or more examples), the rest to training. So every label keeps its
 * share in every split, whatever its size.
 *
 * @param labels each example's label id.
 * @returns the indices of each split and a record to save with the run.
 * @throws {UsageError} for fractions outside [0, 1) or summing to 1 or more.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, strictEqual } from "node:assert";
 * const labels = [...Array(50).fill(0), ...Array(10).fill(1)];
 * const { split, record } = stratifiedSplit(labels, { seed: 1 });
 * deepStrictEqual(record.counts, [[40, 5, 5], [8, 1, 1]]);
 * strictEqual(split.train.length + split.valid.length + split.test.length, 60);
 * ```
 */
export function stratifiedSplit(
  labels: ArrayLike<number>,
  options: SplitOptions = {},
): { split: StratifiedSplit; record: SplitRecord } {
  const { validFraction = 0.1, testFraction = 0.1, seed = 0 } = options;
  for (const [name, value] of [["validFraction", validFraction], ["testFraction", testFraction]]) {
    if (typeof value !== "number" || !(value >= 0 && value < 1)) {
      throw new UsageError(`Cannot split the examples: ${name} is ${value}, expected [0, 1)`);
    }
  }
  if (validFraction + testFraction >= 1) {
    throw new UsageError(
      `Cannot split the examples: validFraction + testFraction is ${
        validFraction + testFraction
      }, expected < 1`,
    );
  }
  const byLabel: number[][] = [];
  for (let i = 0; i < labels.length; i++) (byLabel[labels[i]] ??= []).push(i);
  const split: StratifiedSplit = { train: [], valid: [], test: [] };
  const counts: number[][] = [];
  for (let label = 0; label < byLabel.length; label++) {
    const members = byLabel[label] ?? [];
    // One stream per label: adding a label does not reshuffle the others.
    new Rng((seed ^ Math.imul(label + 1, 0x9e3779b1)) >>> 0).shuffle(members);
    const n = members.length;
    const atLeastOne = (fraction: number) =>
      n >= 3 && fraction > 0 ? Math.max(1, Math.round(n * fraction)) : Math.round(n * fraction);
    const test = atLeastOne(testFraction);
    const valid = atLeastOne(validFraction);
    split.test.push(...members.slice(0, test));
    split.valid.push(...members.slice(test, test + valid));
    split.train.push(...members.slice(test + valid));
    counts.push([n - test - valid, valid, test]);
  }
  for (const part of [split.train, split.valid, split.test]) part.sort((a, b) => a - b);
  return {
    split,
    record: {
      seed,
      validFraction,
      testFraction,
      counts,
      valid: [...split.valid],
      test: [...split.test],
    },
  };
}

/** Options of {@linkcode bucketBatches}. */
export interface BucketOptions {
  /** Examples per minibatch. */
  batchSize: number;
  /** Shuffles the examples and the batch order; without it, batches go shortest first. */
  rng?: Rng;
  /** How many batches' worth of examples are sorted by length together. @default 50 */
  poolBatches?: number;
}

/**
 * Cuts example indices into minibatches of similar lengths, so little of a
 * padded batch is padding: shuffle, sort pools of `poolBatches * batchSize`
 * examples by length, cut each pool into batches, shuffle the batch order.
 * Without an `rng` every example is sorted by length (evaluation order).
 *
 * @param indices the examples to batch.
 * @param lengths every example's length, by example index.
 * @returns batches of example indices; the last of a pool may be smaller.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(bucketBatches([0, 1, 2, 3], [5, 1, 4, 2], { batchSize: 2 }), [[1, 3], [2, 0]]);
 * ```
 */
export function bucketBatches(
  indices: readonly number[],
  lengths: ArrayLike<number>,
  options: BucketOptions,
): number[][] {
  const { batchSize, rng, poolBatches = 50 } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new UsageError(`Cannot make minibatches: batchSize is ${batchSize}, expected >= 1`);
  }
  const order = [...indices];
  if (rng) rng.shuffle(order);
  const pool = rng ? batchSize * poolBatches : order.length;
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += pool) {
    // Stable sort: equal lengths keep the shuffled (or given) order.
    const chunk = order.slice(start, start + pool).sort((a, b) => lengths[a] - lengths[b]);
    for (let i = 0; i < chunk.length; i += batchSize) batches.push(chunk.slice(i, i + batchSize));
  }
  return rng ? rng.shuffle(batches) : batches;
}

/**
 * A minibatch of labelled sequences: ids padded to the longest, time-major,
 * with each sequence's length.
 */
export interface LabelledBatch {
  /** `[T, B]` time-major token ids, `padId` past each length. */
  ids: Int32Array;
  /** `[B]` real steps of each sequence, each in `[1, T]`. */
  lengths: Int32Array;
  /** `[B]` each sequence's label id. */
  labels: Int32Array;
  /** B. */
  batchSize: number;
  /** T, the longest length in the batch. */
  numSteps: number;
}

/**
 * Pads some encoded sequences into one time-major minibatch.
 *
 * @param sequences the token ids of each example in the batch.
 * @param labels the label of each example in the batch.
 * @param padId the id written past each sequence's end.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const batch = labelledBatch([Int32Array.of(5, 6, 7), Int32Array.of(8)], [0, 1], 1);
 * deepStrictEqual([...batch.ids], [5, 8, 6, 1, 7, 1]); // [T=3, B=2]
 * deepStrictEqual([...batch.lengths], [3, 1]);
 * ```
 */
export function labelledBatch(
  sequences: readonly Int32Array[],
  labels: ArrayLike<number>,
  padId: number,
): LabelledBatch {
  const B = sequences.length;
  if (B === 0 || labels.length !== B) {
    throw new UsageError(
      `Cannot make a minibatch: ${B} sequences and ${labels.length} labels, expected as many, >= 1`,
    );
  }
  const T = Math.max(...sequences.map((s) => s.length));
  if (sequences.some((s) => s.length === 0)) {
    throw new UsageError("Cannot make a minibatch: a sequence is empty, expected >= 1 token");
  }
  const ids = new Int32Array(T * B).fill(padId);
  for (let b = 0; b < B; b++) {
    const s = sequences[b];
    for (let t = 0; t < s.length; t++) ids[t * B + b] = s[t];
  }
  return {
    ids,
    lengths: Int32Array.from(sequences, (s) => s.length),
    labels: Int32Array.from(labels),
    batchSize: B,
    numSteps: T,
  };
}
