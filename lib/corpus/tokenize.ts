/**
 * Tokenizers: `char` or `word` tokens, after `d2l` or `raw` normalisation.
 *
 * - `d2l` (the d2l book's `read_time_machine`): the text is cut into lines
 *   (`\n`, `\r\n` or `\r` ends a line, as Python's universal newlines do);
 *   in each line every run of characters other than `[A-Za-z]` becomes one
 *   space, the line is stripped and lower-cased. Char tokens are the
 *   characters of the lines concatenated with nothing between lines (the last
 *   word of a line runs into the first of the next, as in d2l); word tokens
 *   are each line split on spaces.
 * - `raw`: every character is kept, newlines included; char tokens are code
 *   points, word tokens are the runs between whitespace (Python's
 *   `str.split()` whitespace).
 *
 * {@linkcode tokenizeText} does this for a whole string. The streaming
 * tokenizers from {@linkcode createTokenizer} do the same chunk by chunk,
 * with lines and words split across chunks, and emit integer codes instead of
 * strings so that no string is made per token: d2l text is handled as bytes
 * (its tokens are ASCII), char codes are code points, word codes are given in
 * order of first occurrence.
 *
 * @module
 */

/** What a token is. */
export type TokenKind = "char" | "word";

/** How text is normalised before it is cut into tokens. */
export type Normalization = "d2l" | "raw";

/** The token kinds, for validation and help text. */
export const TOKEN_KINDS: readonly TokenKind[] = ["char", "word"];

/** The normalisations, for validation and help text. */
export const NORMALIZATIONS: readonly Normalization[] = ["d2l", "raw"];

/** Tokenizer settings. */
export interface TokenizeOptions {
  /** `char` (default) or `word`. */
  token?: TokenKind;
  /** `d2l` (default) or `raw`. */
  normalize?: Normalization;
}

/** Python's `str.split()` whitespace, as a character class body. */
const WHITESPACE =
  "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const WHITESPACE_RUN = new RegExp(`[${WHITESPACE}]+`);

/**
 * Tokenizes a whole text (the reference for the streaming tokenizers; also
 * handy for a prompt).
 *
 * @example d2l normalisation
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(tokenizeText("The Time-Machine,\nby H. G. Wells", { token: "word" }),
 *   ["the", "time", "machine", "by", "h", "g", "wells"]);
 * deepStrictEqual(tokenizeText("Hi, you\nthere!").join(""), "hi youthere");
 * deepStrictEqual(tokenizeText("a b\n", { normalize: "raw" }), ["a", " ", "b", "\n"]);
 * ```
 */
export function tokenizeText(text: string, options: TokenizeOptions = {}): string[] {
  const token = options.token ?? "char";
  if ((options.normalize ?? "d2l") === "raw") {
    return token === "char" ? Array.from(text) : text.split(WHITESPACE_RUN).filter((w) => w !== "");
  }
  const lines = text.split(/\r\n|\r|\n/).map((line) =>
    line.replace(/[^A-Za-z]+/g, " ").trim().toLowerCase()
  );
  if (token === "char") return Array.from(lines.join(""));
  return lines.flatMap((line) => line === "" ? [] : line.split(" "));
}

/** Token codes: bytes for d2l chars, else 32-bit. */
export type CodeArray = Uint8Array | Uint32Array;

/**
 * Turns a stream of decoded chunks into token codes. Codes are small
 * non-negative integers; {@linkcode StreamTokenizer.tokenOf} gives a code's
 * token. Only codes below {@linkcode StreamTokenizer.codeLimit} have been
 * emitted.
 */
export interface StreamTokenizer {
  /** The token kind. */
  readonly token: TokenKind;
  /** The normalisation. */
  readonly normalize: Normalization;
  /** Whether {@linkcode StreamTokenizer.push} reads the decoded text (else only the bytes). */
  readonly needsText: boolean;
  /** One more than the largest code emitted so far. */
  readonly codeLimit: number;
  /**
   * Tokenizes one chunk, given both as UTF-8 bytes and as the text those
   * bytes completed (a tokenizer reads one or the other).
   *
   * @returns the codes of the tokens completed by this chunk, in a buffer
   *   the next call reuses.
   */
  push(bytes: Uint8Array, text: string): CodeArray;
  /** Flushes a token still open at the end of the stream. */
  end(): CodeArray;
  /** The token of a code. */
  tokenOf(code: number): string;
}

/**
 * A streaming tokenizer.
 *
 * @example Chunks split in the middle of a word give the same tokens
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const tokenizer = createTokenizer({ token: "word" });
 * const enc = new TextEncoder();
 * const codes: number[] = [];
 * for (const part of ["The ti", "me machine"]) codes.push(...tokenizer.push(enc.encode(part), part));
 * codes.push(...tokenizer.end());
 * deepStrictEqual(codes.map((c) => tokenizer.tokenOf(c)), ["the", "time", "machine"]);
 * ```
 */
export function createTokenizer(options: TokenizeOptions = {}): StreamTokenizer {
  const token = options.token ?? "char";
  const normalize = options.normalize ?? "d2l";
  if (normalize === "d2l") {
    return token === "char" ? new D2lCharTokenizer() : new D2lWordTokenizer();
  }
  return token === "char" ? new RawCharTokenizer() : new RawWordTokenizer();
}

/** Lower-cased ASCII letter of a byte, or 0 for any other byte. */
const LOWER = new Uint8Array(256);
for (let c = 65; c <= 90; c++) LOWER[c] = c + 32;
for (let c = 97; c <= 122; c++) LOWER[c] = c;

// d2l char mode as a 3-state machine over bytes, with no branches in the loop.
// States (pre-multiplied by 256): 0 = nothing yet on this line, 1 = in a word,
// 2 = after a word, a space pending. Tables are indexed by state * 256 + byte.
const D2L_NEXT = new Uint16Array(3 * 256);
const D2L_SPACE = new Uint8Array(3 * 256);
const D2L_CHAR = new Uint8Array(3 * 256);
for (let s = 0; s < 3; s++) {
  for (let b = 0; b < 256; b++) {
    const letter = LOWER[b] !== 0, newline = b === 10 || b === 13;
    const next = letter ? 1 : newline ? 0 : s === 0 ? 0 : 2;
    D2L_NEXT[s * 256 + b] = next * 256;
    D2L_SPACE[s * 256 + b] = letter && s === 2 ? 1 : 0;
    D2L_CHAR[s * 256 + b] = letter ? 1 : 0;
  }
}

/** The output buffer and the push/end plumbing; subclasses fill codes. */
abstract class BufferedTokenizer<A extends CodeArray> {
  #out: A;

  constructor() {
    this.#out = this.allocate(1 << 16);
  }

  push(bytes: Uint8Array, text: string): A {
    const need = Math.max(bytes.length, text.length) + 2;
    if (this.#out.length < need) this.#out = this.allocate(need);
    return this.#out.subarray(0, this.fill(bytes, text, this.#out)) as A;
  }

  end(): A {
    return this.#out.subarray(0, this.flush(this.#out)) as A;
  }

  /** A code buffer of `length` codes. */
  protected abstract allocate(length: number): A;
  /** Writes the codes of a chunk to `out` (room for `max(bytes, text) + 2`); returns how many. */
  protected abstract fill(bytes: Uint8Array, text: string, out: A): number;
  /** Writes the code of a token still open (room for 1); returns how many. */
  protected flush(_out: A): number {
    return 0;
  }
}

/** d2l chars: codes are the ASCII codes of ' ' and 'a'..'z', as bytes. */
class D2lCharTokenizer extends BufferedTokenizer<Uint8Array> implements StreamTokenizer {
  readonly token = "char";
  readonly normalize = "d2l";
  readonly needsText = false;
  readonly codeLimit = 123;
  #state = 0;

  protected allocate(length: number): Uint8Array {
    return new Uint8Array(length);
  }

  protected fill(bytes: Uint8Array, _text: string, out: Uint8Array): number {
    let n = 0, s = this.#state;
    const len = bytes.length;
    for (let i = 0; i < len; i++) {
      const b = bytes[i];
      const j = s + b;
      out[n] = 32;
      n += D2L_SPACE[j];
      out[n] = LOWER[b];
      n += D2L_CHAR[j];
      s = D2L_NEXT[j];
    }
    this.#state = s;
    return n;
  }

  tokenOf(code: number): string {
    return String.fromCharCode(code);
  }
}

/** Raw chars: codes are code points. */
class RawCharTokenizer extends BufferedTokenizer<Uint32Array> implements StreamTokenizer {
  readonly token = "char";
  readonly normalize = "raw";
  readonly needsText = true;
  codeLimit = 0;

  protected allocate(length: number): Uint32Array {
    return new Uint32Array(length);
  }

  protected fill(_bytes: Uint8Array, text: string, out: Uint32Array): number {
    let n = 0, limit = this.codeLimit;
    const len = text.length;
    for (let i = 0; i < len; i++) {
      let c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
          i++;
        }
      }
      out[n++] = c;
      if (c >= limit) limit = c + 1;
    }
    this.codeLimit = limit;
    return n;
  }

  tokenOf(code: number): string {
    return String.fromCodePoint(code);
  }
}

/** Raw words: runs between whitespace, interned in a Map. */
class RawWordTokenizer extends BufferedTokenizer<Uint32Array> implements StreamTokenizer {
  readonly token = "word";
  readonly normalize = "raw";
  readonly needsText = true;
  readonly #ids = new Map<string, number>();
  readonly #tokens: string[] = [];
  readonly #word = new RegExp(`[^${WHITESPACE}]+`, "g");
  #carry = "";

  get codeLimit(): number {
    return this.#tokens.length;
  }

  protected allocate(length: number): Uint32Array {
    return new Uint32Array(length);
  }

  protected fill(_bytes: Uint8Array, text: string, out: Uint32Array): number {
    const s = this.#carry + text;
    this.#carry = "";
    const word = this.#word;
    word.lastIndex = 0;
    let n = 0;
    for (let m = word.exec(s); m !== null; m = word.exec(s)) {
      if (word.lastIndex === s.length) {
        this.#carry = m[0]; // may go on in the next chunk
        break;
      }
      out[n++] = this.#intern(m[0]);
    }
    return n;
  }

  protected override flush(out: Uint32Array): number {
    if (this.#carry === "") return 0;
    out[0] = this.#intern(this.#carry);
    this.#carry = "";
    return 1;
  }

  tokenOf(code: number): string {
    return this.#tokens[code];
  }

  #intern(word: string): number {
    let id = this.#ids.get(word);
    if (id === undefined) {
      id = this.#tokens.length;
      this.#tokens.push(word);
      this.#ids.set(word, id);
    }
    return id;
  }
}

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/**
 * d2l words: runs of ASCII letters, lower-cased, interned straight from the
 * bytes in an open-addressing hash table (FNV-1a), so a string is made only
 * for a word never seen before.
 */
class D2lWordTokenizer extends BufferedTokenizer<Uint32Array> implements StreamTokenizer {
  readonly token = "word";
  readonly normalize = "d2l";
  readonly needsText = false;
  readonly #tokens: string[] = [];
  #slots = new Int32Array(1 << 12).fill(-1);
  #hashes = new Int32Array(1 << 10);
  #starts = new Int32Array(1 << 10);
  #lengths = new Int32Array(1 << 10);
  #arena = new Uint8Array(1 << 14);
  #arenaUsed = 0;
  /** A word still open at the end of the last chunk, lower-cased. */
  #carry = new Uint8Array(64);
  #carryLength = 0;
  #carryHash = 0;

  get codeLimit(): number {
    return this.#tokens.length;
  }

  protected allocate(length: number): Uint32Array {
    return new Uint32Array(length);
  }

  protected fill(bytes: Uint8Array, _text: string, out: Uint32Array): number {
    const len = bytes.length;
    let n = 0, i = 0;
    if (this.#carryLength > 0) {
      let h = this.#carryHash;
      while (i < len && LOWER[bytes[i]] !== 0) h = Math.imul(h ^ LOWER[bytes[i++]], FNV_PRIME);
      this.#appendCarry(bytes, 0, i);
      if (i === len) {
        this.#carryHash = h;
        return 0;
      }
      out[n++] = this.#intern(this.#carry, 0, this.#carryLength, h);
      this.#carryLength = 0;
    }
    let start = -1, h = 0;
    for (; i < len; i++) {
      const c = LOWER[bytes[i]];
      if (c !== 0) {
        if (start < 0) {
          start = i;
          h = FNV_OFFSET;
        }
        h = Math.imul(h ^ c, FNV_PRIME);
      } else if (start >= 0) {
        out[n++] = this.#intern(bytes, start, i, h);
        start = -1;
      }
    }
    if (start >= 0) {
      this.#appendCarry(bytes, start, len);
      this.#carryHash = h;
    }
    return n;
  }

  protected override flush(out: Uint32Array): number {
    if (this.#carryLength === 0) return 0;
    out[0] = this.#intern(this.#carry, 0, this.#carryLength, this.#carryHash);
    this.#carryLength = 0;
    return 1;
  }

  tokenOf(code: number): string {
    return this.#tokens[code];
  }

  #appendCarry(bytes: Uint8Array, from: number, to: number): void {
    const need = this.#carryLength + to - from;
    if (need > this.#carry.length) {
      const grown = new Uint8Array(Math.max(need, this.#carry.length * 2));
      grown.set(this.#carry.subarray(0, this.#carryLength));
      this.#carry = grown;
    }
    for (let k = from; k < to; k++) this.#carry[this.#carryLength++] = LOWER[bytes[k]];
  }

  /** The code of the word `buf[start..end)` (letters, any case) with hash `h`. */
  #intern(buf: Uint8Array, start: number, end: number, h: number): number {
    const length = end - start;
    const mask = this.#slots.length - 1;
    const arena = this.#arena;
    let slot = h & mask;
    for (;;) {
      const id = this.#slots[slot];
      if (id < 0) break;
      if (this.#hashes[id] === h && this.#lengths[id] === length) {
        const at = this.#starts[id];
        let k = 0;
        while (k < length && (buf[start + k] | 0x20) === arena[at + k]) k++;
        if (k === length) return id;
      }
      slot = (slot + 1) & mask;
    }
    return this.#add(buf, start, length, h, slot);
  }

  #add(buf: Uint8Array, start: number, length: number, h: number, slot: number): number {
    const id = this.#tokens.length;
    if (id === this.#hashes.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.#hashes = grow(this.#hashes);
      this.#starts = grow(this.#starts);
      this.#lengths = grow(this.#lengths);
    }
    if (this.#arenaUsed + length > this.#arena.length) {
      const grown = new Uint8Array(Math.max(this.#arena.length * 2, this.#arenaUsed + length));
      grown.set(this.#arena.subarray(0, this.#arenaUsed));
      this.#arena = grown;
    }
    const at = this.#arenaUsed;
    let word = "";
    for (let k = 0; k < length; k++) {
      const c = buf[start + k] | 0x20;
      this.#arena[at + k] = c;
      word += String.fromCharCode(c);
    }
    this.#arenaUsed += length;
    this.#hashes[id] = h;
    this.#starts[id] = at;
    this.#lengths[id] = length;
    this.#tokens.push(word);
    this.#slots[slot] = id;
    if ((id + 1) * 2 > this.#slots.length) this.#rehash();
    return id;
  }

  #rehash(): void {
    const slots = new Int32Array(this.#slots.length * 2).fill(-1);
    const mask = slots.length - 1;
    for (let id = 0; id < this.#tokens.length; id++) {
      let slot = this.#hashes[id] & mask;
      while (slots[slot] >= 0) slot = (slot + 1) & mask;
      slots[slot] = id;
    }
    this.#slots = slots;
  }
}
