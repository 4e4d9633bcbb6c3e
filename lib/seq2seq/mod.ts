/**
 * Sequence to sequence (N vs M): sentence pairs, the encoder-decoder with
 * d2l's fixed context or attention, greedy and beam decoding, BLEU, and the
 * attention heat map.
 *
 * @example Translate with an untrained model
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { buildPairVocabs, Seq2Seq, seq2seqConfig, translateText } from "./mod.ts";
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
export {
  BOS_ID,
  buildPairVocabs,
  checkPairVocab,
  EOS_ID,
  loadPairs,
  PAD_ID,
  PAIR_RESERVED,
  parsePairs,
  preprocessPairText,
  tokenizePairs,
  tokenizePairSide,
} from "../corpus/pairs.ts";
export type {
  LoadPairsOptions,
  PairNormalization,
  PairVocabOptions,
  PairVocabs,
  ParsePairsOptions,
  SentencePair,
  TokenizedPair,
} from "../corpus/pairs.ts";
export { ATTENTION_KINDS, SEQ2SEQ_DEFAULTS, seq2seqConfig } from "./config.ts";
export type { AttentionKind, Seq2SeqConfig } from "./config.ts";
export { encodePairs, makePairBatch, pairBatches, splitPairs, targetTokens } from "./data.ts";
export type { EncodedPair, PairBatch, PairBatchOptions, SplitPairsOptions } from "./data.ts";
export { preparePairData } from "./dataset.ts";
export type { PairData, PairDataSettings } from "./dataset.ts";
export { disposeMemory, Seq2Seq } from "./model.ts";
export type { DecodeStepResult, EncoderMemory } from "./model.ts";
export { translateIds } from "./decode.ts";
export type { Hypothesis, TranslateOptions } from "./decode.ts";
export { evaluateTranslations, translateText, validationLoss } from "./evaluate.ts";
export type {
  TextTranslation,
  TranslatedExample,
  TranslateTextOptions,
  TranslationEvaluation,
} from "./evaluate.ts";
export { corpusBleu, d2lBleu, exactMatch } from "./bleu.ts";
export type { CorpusBleu } from "./bleu.ts";
export { attentionHeatmapSvg } from "./heatmap.ts";
export type { HeatmapOptions } from "./heatmap.ts";
