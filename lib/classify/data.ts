/**
 * A classifier's data: length-bucketed minibatches of encoded labelled
 * examples (the data set itself is prepared by `supervised/labelled_set.ts`,
 * which the conditioned generator shares).
 *
 * @module
 */
import type { Rng } from "../rng.ts";
import { bucketBatches, type LabelledBatch, labelledBatch } from "../supervised/labelled.ts";

/** Options of {@linkcode classifierBatches}. */
export interface ClassifierBatchOptions {
  /** Examples per forward pass. */
  batchSize: number;
  /** Shuffles (training); without it the batches go shortest first, every example once. */
  rng?: Rng;
}

/**
 * Length-bucketed minibatches of some examples.
 *
 * @param sequences every example's token ids, by example index.
 * @param labels every example's label id, by example index.
 * @param indices the examples to use (a split).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const seqs = [Int32Array.of(4), Int32Array.of(4, 5, 6), Int32Array.of(5, 5)];
 * const batches = classifierBatches(seqs, [0, 1, 0], [0, 1, 2], { batchSize: 2 });
 * strictEqual(batches[0].numSteps, 2); // lengths 1 and 2 together
 * ```
 */
export function classifierBatches(
  sequences: readonly Int32Array[],
  labels: ArrayLike<number>,
  indices: readonly number[],
  options: ClassifierBatchOptions,
): LabelledBatch[] {
  const lengths = sequences.map((s) => s.length);
  return bucketBatches(indices, lengths, options).map((batch) =>
    labelledBatch(batch.map((i) => sequences[i]), batch.map((i) => labels[i]), 1)
  );
}
