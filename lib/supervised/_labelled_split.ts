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
  /**
   * Each example's text, by example index. With it, a repeated (text, label)
   * pair is dropped (its later copies go to no part), and a text that carries
   * several labels keeps all its copies in one part (that of its first copy):
   * no text is both trained on and held out.
   */
  texts?: ArrayLike<string>;
}

/** Example indices of the three splits, each sorted ascending. */
export interface StratifiedSplit {
  /** Indices of the training examples. */
  train: number[];
  /** Indices of the validation examples. */
  valid: number[];
  /** Indices of the test examples. */
  test: number[];
}

/** What a run records of its split: enough to check or rebuild it. */
export interface SplitRecord {
  /** Seed of the shuffle inside each class. */
  seed: number;
  /** Fraction of each class held out for validation. */
  validFraction: number;
  /** Fraction of each class held out for testing. */
  testFraction: number;
  /** Examples of each label in train, valid and test. */
  counts: number[][];
  /** The held-out example indices (train is every other index not dropped). */
  valid: number[];
  /** Indices of the test examples. */
  test: number[];
  /** Repeats of an earlier (text, label) pair, in no part (only with `texts`). */
  dropped?: number[];
  /** Texts that carry more than one label, each kept in one part (only with `texts`). */
  multiLabelTexts?: number;
}

/**
 * Splits example indices per label: within each label the examples are
 * shuffled with a seeded generator, `round(n * testFraction)` go to test and
 * `round(n * validFraction)` to validation (at least one each when the label
 * has 3 or more examples), the rest to training. So every label keeps its
 * share in every split, whatever its size. With `texts`, repeated (text,
 * label) pairs are dropped first and a text with several labels is kept in
 * one part (see {@linkcode SplitOptions.texts}).
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
 *
 * @example Repeats dropped, a text with two labels in one part
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const texts = ["ab", "ab", "cd", "ef", "gh", "ab", "ij", "kl"];
 * const { split, record } = stratifiedSplit([0, 0, 0, 0, 0, 1, 1, 1], { seed: 1, texts });
 * deepStrictEqual(record.dropped, [1]);
 * deepStrictEqual(record.multiLabelTexts, 1);
 * const partOf = (i: number) => Object.entries(split).find(([, ids]) => ids.includes(i))?.[0];
 * deepStrictEqual(partOf(5), partOf(0));
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
  const texts = options.texts;
  const dropped: number[] = [];
  /** The first copy of each text, by text (with `texts`). */
  const firstOf = new Map<string, number>();
  const pairs = new Set<string>();
  const byLabel: number[][] = [];
  for (let i = 0; i < labels.length; i++) {
    if (texts !== undefined) {
      const pair = `${labels[i]}\t${texts[i]}`;
      if (pairs.has(pair)) {
        dropped.push(i);
        continue;
      }
      pairs.add(pair);
      if (!firstOf.has(texts[i])) firstOf.set(texts[i], i);
    }
    (byLabel[labels[i]] ??= []).push(i);
  }
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
  let multiLabelTexts = 0;
  if (texts !== undefined) {
    // A text with several labels: every copy goes where its first copy went.
    const parts = [split.train, split.valid, split.test];
    const partOf = new Int8Array(labels.length).fill(-1);
    parts.forEach((part, p) => part.forEach((i) => partOf[i] = p));
    const labelsOf = new Map<string, Set<number>>();
    for (const part of parts) {
      for (const i of part) {
        const set = labelsOf.get(texts[i]) ?? new Set<number>();
        labelsOf.set(texts[i], set.add(labels[i]));
      }
    }
    for (const part of parts) part.length = 0;
    for (let i = 0; i < labels.length; i++) {
      if (partOf[i] < 0) continue;
      const p = partOf[firstOf.get(texts[i])!];
      if (p !== partOf[i]) {
        counts[labels[i]][partOf[i]]--;
        counts[labels[i]][p]++;
      }
      parts[p].push(i);
    }
    for (const set of labelsOf.values()) if (set.size > 1) multiLabelTexts++;
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
      ...(texts === undefined ? {} : { dropped, multiLabelTexts }),
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
