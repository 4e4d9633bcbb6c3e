/**
 * A pair corpus ready to train on: read, normalised, tokenized, split,
 * vocabularies built, every pair encoded. The settings are plain JSON, saved
 * with each checkpoint so that `--resume` and `--evaluate` see the same
 * split and vocabularies again.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { Rng } from "../rng.ts";
import type { TokenKind } from "../corpus/tokenize.ts";
import {
  buildPairVocabs,
  checkPairVocab,
  loadPairs,
  type PairNormalization,
  type PairVocabs,
  type SentencePair,
  tokenizePairs,
} from "../supervised/pairs.ts";
import { type EncodedPair, encodePairs, splitPairs } from "./data.ts";

/** How a pair corpus is read and split (plain JSON). */
export interface PairDataSettings {
  /** A `source<TAB>target[<TAB>anything]` file. */
  source: string;
  /** How sentences are tokenized. */
  token: TokenKind;
  /** How sentences are normalised first. */
  normalize: PairNormalization;
  /** Tokens seen fewer times (in the vocabulary's pairs) become `<unk>`. */
  minFreq: number;
  /**
   * `d2l`: the first `numTrain` pairs train and the next `numValid` validate,
   * vocabularies over both (as the book builds them); `random`: a seeded
   * shuffle of every pair, `validFraction` held out, vocabularies over the
   * training part only.
   */
  split: "d2l" | "random";
  /** Training pairs. */
  numTrain: number;
  /** Validation pairs. */
  numValid: number;
  /** Fraction held out for validation. */
  validFraction: number;
  /** d2l's fixed length (cut or pad every side to it, `<eos>` included); null: variable. */
  numSteps: number | null;
  /** Seed of the shuffle before the split. */
  seed: number;
}

/** What {@linkcode preparePairData} returns. */
export interface PairData {
  /** The settings the data set was built with. */
  settings: PairDataSettings;
  /** Source and target vocabularies. */
  vocabs: PairVocabs;
  /** The training pairs as text (normalised), and encoded. */
  trainText: SentencePair[];
  /** The training pairs as ids. */
  train: EncodedPair[];
  /** The validation pairs as text (for BLEU). */
  validText: SentencePair[];
  /** The validation pairs as ids. */
  valid: EncodedPair[];
}

/**
 * Loads a pair file and makes its split, vocabularies and ids.
 *
 * @param vocabs a checkpoint's vocabularies (resume, evaluate); built from
 *   the data when omitted.
 * @throws {UsageError} for a bad file (see `parsePairs`), a split with an
 *   empty side, or saved vocabularies without the pair layout.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const data = await preparePairData({
 *   source: "data/fra-eng/fra.txt", token: "word", normalize: "d2l", minFreq: 2,
 *   split: "d2l", numTrain: 512, numValid: 128, validFraction: 0.1, numSteps: 9, seed: 0,
 * });
 * strictEqual(data.train.length, 512);
 * strictEqual(data.vocabs.target.tokenOf(data.train[0].target[0]), "va");
 * ```
 */
export async function preparePairData(
  settings: PairDataSettings,
  vocabs?: PairVocabs,
): Promise<PairData> {
  if (settings.split === "d2l" && !(settings.numTrain >= 1 && settings.numValid >= 1)) {
    throw new UsageError(
      `Cannot split the pairs: ${settings.numTrain} to train and ${settings.numValid} to ` +
        "validate, expected both >= 1",
    );
  }
  const all = await loadPairs(settings.source, {
    normalize: settings.normalize,
    limit: settings.split === "d2l" ? settings.numTrain + settings.numValid : undefined,
  });
  const { train: trainText, valid: validText } = splitPairs(all, {
    mode: settings.split,
    numTrain: settings.numTrain,
    numValid: settings.numValid,
    validFraction: settings.validFraction,
    rng: new Rng(settings.seed),
  });
  if (settings.split === "d2l" && validText.length < settings.numValid) {
    throw new UsageError(
      `Cannot split the pairs: "${settings.source}" has ${all.length} pairs, expected ` +
        `${settings.numTrain} to train and ${settings.numValid} to validate`,
    );
  }
  const trainTokens = tokenizePairs(trainText, settings.token);
  const validTokens = tokenizePairs(validText, settings.token);
  const used = vocabs ?? buildPairVocabs(
    settings.split === "d2l" ? [...trainTokens, ...validTokens] : trainTokens,
    {
      token: settings.token,
      minFreq: settings.minFreq,
      maxLength: settings.numSteps ?? undefined,
      normalize: settings.normalize,
    },
  );
  checkPairVocab(used.source, "source");
  checkPairVocab(used.target, "target");
  return {
    settings,
    vocabs: used,
    trainText,
    train: encodePairs(trainTokens, used),
    validText,
    valid: encodePairs(validTokens, used),
  };
}
