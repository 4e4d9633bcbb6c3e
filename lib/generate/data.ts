/**
 * Minibatches for a conditioned generator: each sequence read as
 * `<bos> c1 ... cn` and predicted as `c1 ... cn <eos>` (teacher forcing),
 * padded to the longest, time-major; length-bucketed batches of a split.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import type { Rng } from "../rng.ts";
import { BOS, bucketBatches, EOS, LABELLED_RESERVED, PAD } from "../supervised/labelled.ts";

/** A padded, time-major minibatch of sequences and their conditions. */
export interface GeneratorBatch {
  /** `[T, B]` input ids: `<bos>` then the tokens, `<pad>` past each length. */
  inputs: Int32Array;
  /** `[T, B]` target ids: the tokens then `<eos>`, `<pad>` past each length. */
  targets: Int32Array;
  /** `[B]` real steps of each sequence: its tokens + 1. */
  lengths: Int32Array;
  /** `[B]` each sequence's condition id. */
  conditions: Int32Array;
  /** Rows of a minibatch. */
  batchSize: number;
  /** Time steps of a minibatch. */
  numSteps: number;
}

/** The ids of the reserved tokens (a labelled vocabulary's: `<pad>` 1, `<bos>` 2, `<eos>` 3). */
export interface SpecialIds {
  /** Id of the padding token. */
  padId: number;
  /** Id of the begin-of-sequence token. */
  bosId: number;
  /** Id of the end-of-sequence token. */
  eosId: number;
}

/** The special ids of every labelled vocabulary (see `labelledVocab`). */
export const SPECIAL_IDS: SpecialIds = {
  padId: 1 + LABELLED_RESERVED.indexOf(PAD),
  bosId: 1 + LABELLED_RESERVED.indexOf(BOS),
  eosId: 1 + LABELLED_RESERVED.indexOf(EOS),
};

/**
 * Builds a generator minibatch from encoded sequences.
 *
 * @param sequences each example's token ids (no `<bos>`/`<eos>`).
 * @param conditions each example's condition id.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const batch = generatorBatch([Int32Array.of(7, 8), Int32Array.of(9)], [0, 1]);
 * deepStrictEqual([...batch.inputs], [2, 2, 7, 9, 8, 1]); // [T=3, B=2]
 * deepStrictEqual([...batch.targets], [7, 9, 8, 3, 3, 1]);
 * deepStrictEqual([...batch.lengths], [3, 2]);
 * ```
 */
export function generatorBatch(
  sequences: readonly Int32Array[],
  conditions: ArrayLike<number>,
  ids: SpecialIds = SPECIAL_IDS,
): GeneratorBatch {
  const B = sequences.length;
  if (B === 0 || conditions.length !== B) {
    throw new UsageError(
      `Cannot make a minibatch: ${B} sequences and ${conditions.length} conditions, expected as many, >= 1`,
    );
  }
  const T = 1 + Math.max(...sequences.map((s) => s.length));
  const inputs = new Int32Array(T * B).fill(ids.padId);
  const targets = new Int32Array(T * B).fill(ids.padId);
  for (let b = 0; b < B; b++) {
    const s = sequences[b];
    inputs[b] = ids.bosId;
    for (let t = 0; t < s.length; t++) {
      inputs[(t + 1) * B + b] = s[t];
      targets[t * B + b] = s[t];
    }
    targets[s.length * B + b] = ids.eosId;
  }
  return {
    inputs,
    targets,
    lengths: Int32Array.from(sequences, (s) => s.length + 1),
    conditions: Int32Array.from(conditions),
    batchSize: B,
    numSteps: T,
  };
}

/**
 * Length-bucketed generator minibatches of some examples.
 *
 * @param sequences every example's token ids, by example index.
 * @param conditions every example's condition id, by example index.
 * @param indices the examples to use (a split).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const seqs = [Int32Array.of(4), Int32Array.of(4, 5, 6)];
 * strictEqual(generatorBatches(seqs, [0, 1], [0, 1], { batchSize: 1 }).length, 2);
 * ```
 */
export function generatorBatches(
  sequences: readonly Int32Array[],
  conditions: ArrayLike<number>,
  indices: readonly number[],
  options: { batchSize: number; rng?: Rng },
): GeneratorBatch[] {
  const lengths = sequences.map((s) => s.length);
  return bucketBatches(indices, lengths, options).map((batch) =>
    generatorBatch(batch.map((i) => sequences[i]), batch.map((i) => conditions[i]))
  );
}
