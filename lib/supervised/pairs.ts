/**
 * Sentence pairs for sequence-to-sequence learning (d2l §10.5 "Machine
 * Translation and the Dataset"): any `source<TAB>target[<TAB>anything]` text,
 * one pair a line, such as Tatoeba's English-French export.
 *
 * - {@linkcode preprocessPairText} normalises one side as d2l does for
 *   fra-eng: non-breaking spaces become spaces, everything is lower-cased and
 *   a space goes before `, . ! ?` that follow a non-space.
 * - {@linkcode tokenizePairSide} cuts a side into words (on spaces) or
 *   characters.
 * - {@linkcode buildPairVocabs} makes one vocabulary per side, d2l style:
 *   `<unk>` is 0, then `<pad> <bos> <eos>` (ids 1, 2, 3), then the tokens seen
 *   at least `minFreq` times (d2l: 2).
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { readUtf8File } from "../corpus/utf8.ts";
import type { TokenKind } from "../corpus/tokenize.ts";
import { Vocab } from "../corpus/vocab.ts";

/** The reserved tokens of both sides, ids 1, 2, 3 (after `<unk>` at 0). */
export const PAIR_RESERVED: readonly string[] = ["<pad>", "<bos>", "<eos>"];
/** Id of `<pad>` in a pair vocabulary. */
export const PAD_ID = 1;
/** Id of `<bos>` in a pair vocabulary. */
export const BOS_ID = 2;
/** Id of `<eos>` in a pair vocabulary. */
export const EOS_ID = 3;

/** How a side is normalised: d2l's fra-eng preprocessing, or kept as it is. */
export type PairNormalization = "d2l" | "raw";

/** One sentence pair (after normalisation when it came from {@linkcode parsePairs}). */
export interface SentencePair {
  /** The source sentence. */
  source: string;
  /** Its translation. */
  target: string;
}

/** A pair as token lists (no `<eos>`; batching appends it). */
export interface TokenizedPair {
  /** The source sentence's tokens. */
  source: string[];
  /** The target sentence's tokens. */
  target: string[];
}

/** Options of {@linkcode parsePairs}. */
export interface ParsePairsOptions {
  /** What the text is called in error messages. @default "the pairs" */
  name?: string;
  /**
   * How sentences are normalised before tokenizing (d2l's rules by default).
   *
   * @default "d2l"
   */
  normalize?: PairNormalization;
}

/**
 * d2l's `_preprocess` of fra-eng: U+202F and U+00A0 become spaces, the text
 * is lower-cased, and a space is put before each of `, . ! ?` that does not
 * follow a space.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(preprocessPairText("Go.  Va\u202f!"), "go .  va !");
 * strictEqual(preprocessPairText("He's calm, OK?"), "he's calm , ok ?");
 * ```
 */
export function preprocessPairText(text: string): string {
  const lower = text.replaceAll("\u202f", " ").replaceAll("\xa0", " ").toLowerCase();
  let out = "";
  for (let i = 0; i < lower.length; i++) {
    const c = lower[i];
    out += i > 0 && ",.!?".includes(c) && lower[i - 1] !== " " ? " " + c : c;
  }
  return out;
}

/**
 * Reads `source<TAB>target[<TAB>anything]` lines (anything after the second
 * tab, such as an attribution, is ignored; a blank line is skipped) and
 * normalises both sides.
 *
 * @param text the whole file.
 * @returns the pairs in file order.
 * @throws {UsageError} for a line without a tab, a side that is empty after
 *   normalisation, or fewer than two pairs (nothing to split and validate).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const pairs = parsePairs("Go.\tVa !\tCC-BY\nHi.\tSalut.\n");
 * deepStrictEqual(pairs[1], { source: "hi .", target: "salut ." });
 * ```
 */
export function parsePairs(text: string, options: ParsePairsOptions = {}): SentencePair[] {
  const name = options.name ?? "the pairs";
  const normalize = options.normalize ?? "d2l";
  const lines = text.split(/\r?\n/);
  const pairs: SentencePair[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === "") continue;
    const where = `Cannot read ${name}: line ${i + 1}`;
    const parts = line.split("\t");
    if (parts.length < 2) {
      throw new UsageError(`${where} has no tab, expected source<TAB>target`);
    }
    const [source, target] = normalize === "d2l"
      ? [preprocessPairText(parts[0]), preprocessPairText(parts[1])]
      : [parts[0], parts[1]];
    for (const [side, value] of [["source", source], ["target", target]] as const) {
      if (value.trim() === "") {
        throw new UsageError(
          `${where} has an empty ${side}, expected text on both sides of the tab`,
        );
      }
    }
    pairs.push({ source, target });
  }
  if (pairs.length < 2) {
    throw new UsageError(
      `Cannot read ${name}: it has ${pairs.length} pair${pairs.length === 1 ? "" : "s"}, ` +
        `expected at least 2 (some to train on, some to validate)`,
    );
  }
  return pairs;
}

/**
 * Cuts one side into tokens: words are the non-empty runs between spaces
 * (d2l's `split(' ')` without empty tokens); chars are the code points.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(tokenizePairSide("j'ai  perdu .", "word"), ["j'ai", "perdu", "."]);
 * deepStrictEqual(tokenizePairSide("ab c", "char"), ["a", "b", " ", "c"]);
 * ```
 */
export function tokenizePairSide(text: string, token: TokenKind): string[] {
  return token === "char" ? [...text] : text.split(" ").filter((t) => t !== "");
}

/**
 * Tokenizes both sides of every pair.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(tokenizePairs([{ source: "go .", target: "va !" }], "word"),
 *   [{ source: ["go", "."], target: ["va", "!"] }]);
 * ```
 */
export function tokenizePairs(pairs: readonly SentencePair[], token: TokenKind): TokenizedPair[] {
  return pairs.map(({ source, target }) => ({
    source: tokenizePairSide(source, token),
    target: tokenizePairSide(target, token),
  }));
}

/** Options of {@linkcode buildPairVocabs}. */
export interface PairVocabOptions {
  /** `word` or `char`. @default "word" */
  token?: TokenKind;
  /** Tokens seen fewer times become `<unk>`. @default 2 (d2l) */
  minFreq?: number;
  /**
   * Count only the first `maxLength - 1` tokens of each side (d2l counts its
   * sentences after cutting them to `num_steps` with `<eos>`). @default no cut
   */
  maxLength?: number;
  /** Recorded in the vocabularies. @default "d2l" */
  normalize?: PairNormalization;
}

/** The two vocabularies of a pair corpus. */
export interface PairVocabs {
  /** Vocabulary of the source language. */
  source: Vocab;
  /** Vocabulary of the target language. */
  target: Vocab;
}

/**
 * One vocabulary per side: `<unk>`, `<pad>`, `<bos>`, `<eos>`, then the tokens
 * seen at least `minFreq` times, most frequent first.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, strictEqual } from "node:assert";
 * const { source, target } = buildPairVocabs(
 *   [{ source: ["go", "."], target: ["va", "!"] }, { source: ["go", "!"], target: ["va", "."] }],
 * );
 * deepStrictEqual(source.tokens, ["<unk>", "<pad>", "<bos>", "<eos>", "go"]);
 * strictEqual(target.idOf("va"), 4);
 * ```
 */
export function buildPairVocabs(
  pairs: readonly TokenizedPair[],
  options: PairVocabOptions = {},
): PairVocabs {
  const { token = "word", minFreq = 2, maxLength, normalize = "d2l" } = options;
  const cut = (tokens: string[]) =>
    maxLength === undefined ? tokens : tokens.slice(0, maxLength - 1);
  const vocabOptions = { token, minFreq, reserved: PAIR_RESERVED, normalize };
  return {
    source: Vocab.build(pairs.flatMap((p) => cut(p.source)), vocabOptions),
    target: Vocab.build(pairs.flatMap((p) => cut(p.target)), vocabOptions),
  };
}

/**
 * Checks that a vocabulary has the pair layout (`<unk> <pad> <bos> <eos>` at
 * ids 0-3), as one read from a checkpoint must.
 *
 * @throws {UsageError} when it does not.
 *
 * @example Pair layout or not
 * ```ts
 * import { throws } from "node:assert";
 * import { checkPairVocab, PAIR_RESERVED } from "./pairs.ts";
 * import { Vocab } from "../corpus/vocab.ts";
 * checkPairVocab(Vocab.build(["a", "b"], { reserved: PAIR_RESERVED }), "source");
 * throws(() => checkPairVocab(Vocab.build(["a", "b"]), "source"));
 * ```
 */
export function checkPairVocab(vocab: Vocab, side: string): void {
  const head = vocab.tokens.slice(0, 4).join(" ");
  if (head !== "<unk> <pad> <bos> <eos>") {
    throw new UsageError(
      `Cannot use the ${side} vocabulary: its first tokens are "${head}", expected "<unk> <pad> <bos> <eos>"`,
    );
  }
}

/** Options of {@linkcode loadPairs}. */
export interface LoadPairsOptions extends ParsePairsOptions {
  /** Read only the first `limit` lines. @default all */
  limit?: number;
}

/**
 * Reads and parses a pair file (see {@linkcode parsePairs}).
 *
 * @param path a file path.
 * @throws {UsageError} for a missing file or a bad line.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const pairs = await loadPairs("data/fra-eng/fra.txt", { limit: 10 });
 * strictEqual(pairs[0].source, "go .");
 * ```
 */
export async function loadPairs(
  path: string,
  options: LoadPairsOptions = {},
): Promise<SentencePair[]> {
  let text: string;
  try {
    text = await readUtf8File(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`Cannot read the pairs: "${path}" does not exist, expected a file`);
    }
    throw error;
  }
  if (options.limit !== undefined) text = text.split("\n").slice(0, options.limit).join("\n");
  return parsePairs(text, { name: options.name ?? `"${path}"`, normalize: options.normalize });
}
