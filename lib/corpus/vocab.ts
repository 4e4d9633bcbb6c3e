/**
 * The vocabulary: token strings to ids and back, d2l style.
 *
 * Ids are given by frequency: `<unk>` is 0, the reserved tokens follow, then
 * every token whose count is at least `minFreq`, most frequent first, ties
 * in order of first occurrence (Python's stable sort over a `Counter`).
 * A vocabulary is saved with every checkpoint ({@linkcode Vocab.toJSON},
 * {@linkcode Vocab.fromJSON}) so a model always decodes with the ids it was
 * trained on.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { type Normalization, NORMALIZATIONS, TOKEN_KINDS, type TokenKind } from "./tokenize.ts";

/** The unknown token, always id 0. */
export const UNK = "<unk>";

/** The `format` field of a saved vocabulary. */
export const VOCAB_FORMAT = "rnn-deno/vocab";

/** How a vocabulary is built and what its tokens are. */
export interface VocabOptions {
  /** `char` (default) or `word`: decides the joiner and how text is tokenized. */
  token?: TokenKind;
  /** `d2l` (default) or `raw`: the normalisation the tokens went through. */
  normalize?: Normalization;
  /** Tokens given ids 1, 2, ... right after `<unk>`, whether or not they occur. */
  reserved?: readonly string[];
  /** Tokens seen fewer times are left out (they become `<unk>`). Default 0. */
  minFreq?: number;
}

/** A vocabulary as saved in a checkpoint (JSON). */
export interface VocabJSON {
  /** Marks the JSON as a vocabulary of this project. */
  format: typeof VOCAB_FORMAT;
  /** Version of the JSON layout. */
  version: 1;
  /** How the text was tokenized. */
  token: TokenKind;
  /** How the text was normalised before tokenizing. */
  normalize: Normalization;
  /** The reserved tokens, also `tokens[1..1 + reserved.length)`. */
  reserved: string[];
  /** Every token by id; `tokens[0]` is `<unk>`. */
  tokens: string[];
}

/**
 * Token strings to ids and back.
 *
 * @example Build from tokens, encode and decode
 * ```ts
 * import { deepStrictEqual, strictEqual } from "node:assert";
 * const vocab = Vocab.build("abracadabra", { token: "char" });
 * deepStrictEqual(vocab.tokens, ["<unk>", "a", "b", "r", "c", "d"]);
 * deepStrictEqual([...vocab.encode("bad!")], [2, 1, 5, 0]);
 * strictEqual(vocab.decode([2, 1, 5]), "bad");
 * ```
 *
 * @example Save and restore
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const vocab = Vocab.build(["the", "time", "the"], { token: "word", reserved: ["<pad>"] });
 * const again = Vocab.fromJSON(JSON.parse(JSON.stringify(vocab)));
 * deepStrictEqual(again.tokens, ["<unk>", "<pad>", "the", "time"]);
 * ```
 */
export class Vocab {
  /** `char` or `word`. */
  readonly token: TokenKind;
  /** The normalisation the tokens went through. */
  readonly normalize: Normalization;
  /** The reserved tokens (ids 1 to `reserved.length`). */
  readonly reserved: readonly string[];
  /** Every token by id; `tokens[0]` is `<unk>`. */
  readonly tokens: readonly string[];
  readonly #ids: Map<string, number>;

  /**
   * A vocabulary with exactly these tokens by id.
   *
   * @param tokens every token by id: `<unk>`, then `options.reserved`, then the rest.
   * @throws {UsageError} when the tokens are not a valid vocabulary.
   */
  constructor(tokens: readonly string[], options: Omit<VocabOptions, "minFreq"> = {}) {
    const token = options.token ?? "char";
    const normalize = options.normalize ?? "d2l";
    const reserved = options.reserved ?? [];
    if (!TOKEN_KINDS.includes(token)) invalid(`token kind "${token}" is not char or word`);
    if (!NORMALIZATIONS.includes(normalize)) {
      invalid(`normalisation "${normalize}" is not d2l or raw`);
    }
    if (tokens[0] !== UNK) invalid(`the first token is not "${UNK}"`);
    const ids = new Map<string, number>();
    for (let id = 0; id < tokens.length; id++) {
      const t = tokens[id];
      if (typeof t !== "string" || t === "") invalid(`token ${id} is not a non-empty string`);
      if (ids.has(t)) invalid(`token "${t}" appears twice`);
      ids.set(t, id);
    }
    for (let i = 0; i < reserved.length; i++) {
      if (tokens[i + 1] !== reserved[i]) {
        invalid(`reserved token "${reserved[i]}" is not at id ${i + 1}`);
      }
    }
    if (token === "char") {
      for (let id = 1 + reserved.length; id < tokens.length; id++) {
        const t = tokens[id];
        if (t.length > 2 || [...t].length !== 1) {
          invalid(`char token ${id} ("${t}") is not one character`);
        }
      }
    }
    this.token = token;
    this.normalize = normalize;
    this.reserved = Object.freeze([...reserved]);
    this.tokens = Object.freeze([...tokens]);
    this.#ids = ids;
  }

  /**
   * A vocabulary from token counts.
   *
   * @param counts `[token, count]` pairs in order of first occurrence.
   * @throws {UsageError} for a bad `minFreq` or bad reserved tokens.
   */
  static fromCounts(
    counts: Iterable<readonly [string, number]>,
    options: VocabOptions = {},
  ): Vocab {
    const minFreq = options.minFreq ?? 0;
    if (typeof minFreq !== "number" || !(minFreq >= 0) || !Number.isFinite(minFreq)) {
      throw new UsageError(`Cannot build a vocabulary: minFreq ${minFreq} is not a number >= 0`);
    }
    const reserved = options.reserved ?? [];
    const seen = new Set<string>([UNK]);
    for (const t of reserved) {
      if (typeof t !== "string" || t === "" || seen.has(t)) {
        throw new UsageError(
          `Cannot build a vocabulary: reserved token "${t}" is empty, "${UNK}" or repeated`,
        );
      }
      seen.add(t);
    }
    // Array.prototype.sort is stable: ties keep the order of first occurrence.
    const sorted = [...counts].sort((a, b) => b[1] - a[1]);
    const tokens = [UNK, ...reserved];
    for (const [t, count] of sorted) {
      if (count < minFreq) break;
      if (!seen.has(t)) {
        seen.add(t);
        tokens.push(t);
      }
    }
    return new Vocab(tokens, options);
  }

  /**
   * A vocabulary from a list of tokens (a string is a list of characters).
   *
   * @example
   * ```ts
   * import { strictEqual } from "node:assert";
   * strictEqual(Vocab.build("aab", { minFreq: 2 }).size, 2); // <unk>, a
   * ```
   */
  static build(tokens: Iterable<string>, options: VocabOptions = {}): Vocab {
    const counts = new Map<string, number>();
    for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
    return Vocab.fromCounts(counts, options);
  }

  /**
   * Reads a vocabulary saved by {@linkcode Vocab.toJSON}.
   *
   * @param json the parsed record (or its JSON text).
   * @throws {UsageError} naming what is wrong with a malformed record.
   */
  static fromJSON(json: unknown): Vocab {
    let record = json;
    if (typeof record === "string") {
      try {
        record = JSON.parse(record);
      } catch {
        invalid("it is not JSON");
      }
    }
    if (typeof record !== "object" || record === null || Array.isArray(record)) {
      invalid("it is not an object");
    }
    const r = record as Partial<Record<keyof VocabJSON, unknown>>;
    if (r.format !== VOCAB_FORMAT) invalid(`format is ${str(r.format)}, not "${VOCAB_FORMAT}"`);
    if (r.version !== 1) invalid(`version ${str(r.version)} is not 1`);
    if (!isStringArray(r.tokens)) invalid("tokens is not an array of strings");
    if (!isStringArray(r.reserved)) invalid("reserved is not an array of strings");
    return new Vocab(r.tokens, {
      token: r.token as TokenKind,
      normalize: r.normalize as Normalization,
      reserved: r.reserved,
    });
  }

  /** Number of ids, `<unk>` and reserved tokens included. */
  get size(): number {
    return this.tokens.length;
  }

  /** What goes between decoded tokens: `""` for chars, `" "` for words. */
  get joiner(): string {
    return this.token === "char" ? "" : " ";
  }

  /** The id of a token; 0 (`<unk>`) for a token not in the vocabulary. */
  idOf(token: string): number {
    return this.#ids.get(token) ?? 0;
  }

  /** Whether the token has an id of its own. */
  has(token: string): boolean {
    return this.#ids.has(token);
  }

  /**
   * The token of an id.
   *
   * @throws {RangeError} for an id outside `[0, size)`.
   */
  tokenOf(id: number): string {
    const t = this.tokens[id];
    if (t === undefined || !Number.isInteger(id)) {
      throw new RangeError(`Token id ${id} is outside the vocabulary [0, ${this.size})`);
    }
    return t;
  }

  /** Ids of tokens (a string is read as its characters); unknown tokens are 0. */
  encode(tokens: Iterable<string>): Int32Array {
    const ids: number[] = [];
    for (const t of tokens) ids.push(this.idOf(t));
    return Int32Array.from(ids);
  }

  /** The text of ids: their tokens joined with {@linkcode Vocab.joiner}. */
  decode(ids: Iterable<number>): string {
    const parts: string[] = [];
    for (const id of ids) parts.push(this.tokenOf(id));
    return parts.join(this.joiner);
  }

  /** The record to save (see {@linkcode VocabJSON}). */
  toJSON(): VocabJSON {
    return {
      format: VOCAB_FORMAT,
      version: 1,
      token: this.token,
      normalize: this.normalize,
      reserved: [...this.reserved],
      tokens: [...this.tokens],
    };
  }
}

function invalid(what: string): never {
  throw new UsageError(`Cannot read vocabulary: ${what}`);
}

function str(value: unknown): string {
  return value === undefined ? "missing" : JSON.stringify(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}
