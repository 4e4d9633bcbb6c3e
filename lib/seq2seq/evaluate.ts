/**
 * Scoring an encoder-decoder: the validation loss (teacher forcing, the
 * training loss without dropout), and translations of a split scored with
 * corpus BLEU-4, d2l's BLEU and exact match; and translating raw text.
 *
 * @module
 */
import type { Vocab } from "../corpus/vocab.ts";
import type { TokenKind } from "../corpus/tokenize.ts";
import {
  type PairNormalization,
  preprocessPairText,
  tokenizePairSide,
} from "../supervised/pairs.ts";
import { type EncodedPair, pairBatches } from "./data.ts";
import type { Seq2Seq } from "./model.ts";
import { type Hypothesis, translateIds, type TranslateOptions } from "./decode.ts";
import { corpusBleu, d2lBleu, exactMatch } from "./bleu.ts";

/**
 * The mean cross-entropy per target token over pairs (dropout off).
 *
 * @param options `numSteps` for d2l's fixed length; `batchSize` pairs per batch.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { Seq2Seq } from "./model.ts";
 * import { seq2seqConfig } from "./config.ts";
 * const model = new Seq2Seq(seq2seqConfig({ sourceVocabSize: 6, targetVocabSize: 6, embeddingSize: 3, hiddenSize: 3 }));
 * const loss = await validationLoss(model, [{ source: Int32Array.of(4), target: Int32Array.of(5) }]);
 * ok(Math.abs(loss - Math.log(6)) < 0.5);
 * model.dispose();
 * ```
 */
export async function validationLoss(
  model: Seq2Seq,
  pairs: readonly EncodedPair[],
  options: { batchSize?: number; numSteps?: number } = {},
): Promise<number> {
  let sum = 0, count = 0;
  for (
    const batch of pairBatches(pairs, {
      batchSize: options.batchSize ?? 128,
      numSteps: options.numSteps,
    })
  ) {
    const { loss, count: n } = model.loss(batch, { training: false });
    sum += (await loss.data())[0] * n;
    count += n;
    loss.dispose();
  }
  return sum / count;
}

/** One translated example. */
export interface TranslatedExample {
  /** The source sentence. */
  source: string;
  /** The model's translation. */
  translation: string;
  /** The reference translation, when known. */
  reference?: string;
  /** The hypothesis's normalised log-probability. */
  score: number;
  /** d2l's BLEU (k = 2) against the reference. */
  bleu?: number;
}

/** What {@linkcode evaluateTranslations} returns. */
export interface TranslationEvaluation {
  /** Corpus BLEU-4 with brevity penalty. */
  bleu: number;
  /** Mean of d2l's per-sentence BLEU (k = 2). */
  d2lBleu: number;
  /** Fraction of translations equal to their reference, 0-1. */
  exactMatch: number;
  /** The first few sentences. */
  examples: TranslatedExample[];
}

/** Tokens of ids, stopping at nothing (the hypotheses have no `<eos>`). */
function tokensOf(vocab: Vocab, ids: readonly number[]): string[] {
  return ids.map((id) => vocab.tokenOf(id));
}

/**
 * Translates every pair's source and scores it against its target.
 *
 * @param options decoding options, and how many `examples` to return (default 5).
 *
 * @example Score an untrained model
 * ```ts
 * import { ok } from "node:assert";
 * import { Seq2Seq } from "./model.ts";
 * import { seq2seqConfig } from "./config.ts";
 * import { evaluateTranslations } from "./evaluate.ts";
 * import { PAIR_RESERVED } from "../supervised/pairs.ts";
 * import { Vocab } from "../corpus/vocab.ts";
 * const vocab = Vocab.build(["a", "b", "c", "d", "e"], { reserved: PAIR_RESERVED });
 * const model = new Seq2Seq(seq2seqConfig({ sourceVocabSize: vocab.size, targetVocabSize: vocab.size, embeddingSize: 4, hiddenSize: 4 }));
 * const pairs = [{ source: Int32Array.of(4, 5), target: Int32Array.of(5, 4) }];
 * const result = await evaluateTranslations(model, pairs, { source: vocab, target: vocab }, { maxLengthExtra: 2 });
 * ok(result.bleu >= 0 && result.bleu <= 1);
 * model.dispose();
 * ```
 */
export async function evaluateTranslations(
  model: Seq2Seq,
  pairs: readonly EncodedPair[],
  vocabs: { source: Vocab; target: Vocab },
  options: TranslateOptions & { examples?: number } = {},
): Promise<TranslationEvaluation> {
  const hyps = await translateIds(model, pairs.map((p) => p.source), options);
  const hypTokens = hyps.map((h) => tokensOf(vocabs.target, h[0].ids));
  const refTokens = pairs.map((p) => tokensOf(vocabs.target, Array.from(p.target)));
  const joiner = vocabs.target.joiner === "" ? "" : " ";
  let d2l = 0;
  hypTokens.forEach((h, i) => d2l += d2lBleu(h.join(" "), refTokens[i].join(" "), 2));
  const examples = pairs.slice(0, options.examples ?? 5).map((p, i) => ({
    source: tokensOf(vocabs.source, Array.from(p.source)).join(vocabs.source.joiner),
    translation: hypTokens[i].join(joiner),
    reference: refTokens[i].join(joiner),
    score: hyps[i][0].normalized,
  }));
  return {
    bleu: corpusBleu(hypTokens, refTokens).bleu,
    d2lBleu: d2l / Math.max(1, pairs.length),
    exactMatch: exactMatch(hypTokens, refTokens),
    examples,
  };
}

/** Options of {@linkcode translateText}. */
export interface TranslateTextOptions extends TranslateOptions {
  /** How sentences are tokenized. */
  token?: TokenKind;
  /** How sentences are normalised first. */
  normalize?: PairNormalization;
}

/** One sentence's translations. */
export interface TextTranslation {
  /** The source sentence. */
  source: string;
  /** The source tokens as the model saw them (`<eos>` last). */
  sourceTokens: string[];
  /** The source words the vocabulary does not hold (read as `<unk>`), once each. */
  unknown: string[];
  /** Best first. */
  hypotheses: (Hypothesis & { text: string; tokens: string[] })[];
}

/**
 * Translates raw sentences: normalised and tokenized as the training data,
 * unknown words read as `<unk>`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { Seq2Seq } from "./model.ts";
 * import { seq2seqConfig } from "./config.ts";
 * import { buildPairVocabs } from "../supervised/pairs.ts";
 * const vocabs = buildPairVocabs([{ source: ["go"], target: ["va"] }], { minFreq: 1 });
 * const model = new Seq2Seq(seq2seqConfig({ sourceVocabSize: 5, targetVocabSize: 5, embeddingSize: 3, hiddenSize: 3 }));
 * const [t] = await translateText(model, vocabs, ["Go."], { maxLengthExtra: 2 });
 * strictEqual(t.sourceTokens.join(" "), "go <unk> <eos>");
 * strictEqual(t.unknown.join(" "), ".");
 * model.dispose();
 * ```
 */
export async function translateText(
  model: Seq2Seq,
  vocabs: { source: Vocab; target: Vocab },
  sentences: readonly string[],
  options: TranslateTextOptions = {},
): Promise<TextTranslation[]> {
  const token = options.token ?? vocabs.source.token;
  const normalize = options.normalize ?? "d2l";
  const tokenized = sentences.map((s) =>
    tokenizePairSide(normalize === "d2l" ? preprocessPairText(s) : s, token)
  );
  const ids = tokenized.map((t) => vocabs.source.encode(t));
  const hyps = await translateIds(model, ids, options);
  const joiner = vocabs.target.joiner;
  return sentences.map((source, i) => ({
    source,
    sourceTokens: [...tokensOf(vocabs.source, Array.from(ids[i])), "<eos>"],
    unknown: [...new Set(tokenized[i].filter((t) => !vocabs.source.has(t)))],
    hypotheses: hyps[i].map((h) => {
      const tokens = tokensOf(vocabs.target, h.ids);
      return { ...h, tokens, text: tokens.join(joiner) };
    }),
  }));
}
