/**
 * A language model's data: the corpus settings its run saves, the corpus
 * loaded by them (checked long enough to train on), and one epoch's
 * minibatches in the run's sampling order.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import type { Rng } from "../rng.ts";
import type { Vocab } from "../corpus/vocab.ts";
import { type Corpus, loadCorpus } from "../corpus/load.ts";
import type { Normalization, TokenKind } from "../corpus/tokenize.ts";
import {
  type BatchEpoch,
  minimumTokens,
  randomBatches,
  type Sampling,
  sequentialBatches,
} from "../corpus/batches.ts";
import type { TokenIds } from "../corpus/store.ts";

/** Where a language model's corpus came from and how it was tokenized (saved with its run). */
export interface LmCorpusSettings {
  /** A path, an http(s) URL or `-` for stdin. */
  source: string;
  /** Character or word tokens. */
  token: TokenKind;
  /** How the text was normalised before tokenizing. */
  normalize: Normalization;
  /** Tokens seen fewer times became `<unk>`. */
  minFreq: number;
  /** Share of the corpus (its end) held out for validation. */
  validFraction: number;
}

/** The minibatch shape and order of a language model's training. */
export interface LmBatchSettings {
  /** Rows of a minibatch. */
  batchSize: number;
  /** Time steps of a minibatch. */
  numSteps: number;
  /** sequential (state carried across minibatches) or random. */
  sampling: Sampling;
}

/**
 * Loads a language model's corpus and refuses, before anything trains, a
 * training split too short for one minibatch of the given shape.
 *
 * @param options the vocabulary of a resumed run (so its ids stay), the
 *   checksum of a URL corpus.
 * @throws {UsageError} naming the flags, the split's tokens and the minimum.
 *
 * @example A corpus too short for a minibatch
 * ```ts
 * import { rejects } from "node:assert";
 * import { UsageError } from "../errors.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "the time machine");
 * const settings = { source: path, token: "char", normalize: "d2l", minFreq: 0, validFraction: 0 } as const;
 * await rejects(loadLmCorpus(settings, { batchSize: 32, numSteps: 35, sampling: "random" }), UsageError);
 * await Deno.remove(path);
 * ```
 */
export async function loadLmCorpus(
  settings: LmCorpusSettings,
  batches: LmBatchSettings,
  options: { vocab?: Vocab; checksum?: string } = {},
): Promise<Corpus> {
  const corpus = await loadCorpus({ ...settings, ...options });
  const { batchSize, numSteps } = batches;
  const needed = minimumTokens(batchSize, numSteps);
  if (corpus.train.length < needed) {
    corpus.close();
    throw new UsageError(
      `Cannot train with --batch-size ${batchSize} --num-steps ${numSteps}: the training ` +
        `split has ${corpus.train.length} tokens, expected at least ${needed} ` +
        `(batch size x steps + steps)`,
    );
  }
  return corpus;
}

/**
 * One epoch of a language model's minibatches: consecutive rows that carry
 * the state (`sequential`), or independent windows (`random`).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { Rng } from "../rng.ts";
 * import { MemoryTokenIds } from "../corpus/store.ts";
 * const ids = new MemoryTokenIds(Int32Array.from({ length: 100 }, (_, i) => i % 7));
 * const epoch = lmBatches(ids, { batchSize: 2, numSteps: 5, sampling: "sequential" }, new Rng(0));
 * strictEqual([...epoch][0].x.length, 10);
 * ```
 */
export function lmBatches(train: TokenIds, settings: LmBatchSettings, rng: Rng): BatchEpoch {
  const { batchSize, numSteps, sampling } = settings;
  const sampler = sampling === "sequential" ? sequentialBatches : randomBatches;
  return sampler(train, { batchSize, numSteps, rng });
}
