/**
 * The streaming corpus loader: sources (path, URL, stdin, stream), strict
 * UTF-8 decoding, `char`/`word` tokenizers with `d2l` or `raw`
 * normalisation, the {@linkcode Vocab}, token stores that need not fit in
 * memory, the train/validation split, and d2l's minibatch samplers.
 *
 * @example Load and iterate
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { loadCorpus, sequentialBatches } from "./mod.ts";
 * import { Rng } from "../rng.ts";
 * const corpus = await loadCorpus({ source: "data/timemachine.txt" });
 * const epoch = sequentialBatches(corpus.train, { batchSize: 32, numSteps: 35, rng: new Rng(0) });
 * for (const { x, y } of epoch) strictEqual(x.length, y.length);
 * corpus.close();
 * ```
 *
 * @module
 */
export {
  type Corpus,
  DEFAULT_MEMORY_LIMIT_BYTES,
  loadCorpus,
  type LoadCorpusOptions,
} from "./load.ts";
export {
  type BatchEpoch,
  type BatchOptions,
  countBatches,
  type CountBatchesOptions,
  type Minibatch,
  minimumTokens,
  randomBatches,
  randomPermutation,
  type Sampling,
  sequentialBatches,
} from "./batches.ts";
export {
  type Normalization,
  NORMALIZATIONS,
  TOKEN_KINDS,
  tokenizeText,
  type TokenKind,
} from "./tokenize.ts";
export { UNK, Vocab, type VocabJSON, type VocabOptions } from "./vocab.ts";
export { FileTokenIds, MemoryTokenIds, type TokenIds } from "./store.ts";
export { splitTrainValid, type TrainValidSplit } from "./split.ts";
export { type CorpusSource, DEFAULT_CACHE_DIR, parseChecksum, type SourceInfo } from "./source.ts";
