/**
 * Sequence to sequence (N vs M): sentence pairs, the encoder-decoder with
 * d2l's fixed context or attention, greedy and beam decoding, BLEU, and the
 * attention heat map.
 *
 * @example Translate with an untrained model
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { Seq2Seq, seq2seqConfig, translateText } from "./mod.ts";
 * import { buildPairVocabs } from "../supervised/mod.ts";
 * const vocabs = buildPairVocabs([{ source: ["go", "."], target: ["va", "!"] }], { minFreq: 1 });
 * const model = new Seq2Seq(seq2seqConfig({
 *   sourceVocabSize: vocabs.source.size,
 *   targetVocabSize: vocabs.target.size,
 *   embeddingSize: 8,
 *   hiddenSize: 8,
 *   attention: "additive",
 * }));
 * const [t] = await translateText(model, vocabs, ["Go."], { beam: 2, maxLengthExtra: 3 });
 * strictEqual(t.sourceTokens.join(" "), "go . <eos>");
 * model.dispose();
 * ```
 *
 * @module
 */
export * from "./bleu.ts";
export * from "./config.ts";
export * from "./data.ts";
export * from "./dataset.ts";
export * from "./decode.ts";
export * from "./evaluate.ts";
export * from "./heatmap.ts";
export * from "./model.ts";
export * from "./run.ts";
