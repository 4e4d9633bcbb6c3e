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
export * from "./batches.ts";
export * from "./bundled.ts";
export * from "./load.ts";
export * from "./source.ts";
export * from "./split.ts";
export * from "./store.ts";
export * from "./tokenize.ts";
export * from "./utf8.ts";
export * from "./vocab.ts";
