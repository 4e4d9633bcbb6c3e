/**
 * Incremental, strict UTF-8 decoding of a byte stream.
 *
 * A fatal `TextDecoder` in stream mode validates and decodes each chunk as it
 * arrives (sequences split across chunks are fine). When it refuses a byte,
 * {@linkcode Utf8StreamDecoder} finds the exact offset of the bad byte and its
 * line, and throws a {@linkcode UsageError} that names the source and both.
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/**
 * Counts the line of a byte offset after the fact (1-based), for sources
 * that can be read again (files). Streams that cannot be re-read leave it out
 * and the decoder counts newlines as it goes instead.
 */
export type LineLocator = (offset: number) => Promise<number>;

/** Options of {@linkcode Utf8StreamDecoder}. */
export interface Utf8StreamDecoderOptions {
  /**
   * Finds the line of a bad byte by re-reading the source. Without it the
   * decoder counts `\n` bytes in every chunk (a little slower).
   */
  locateLine?: LineLocator;
}

/**
 * Index of the first byte of the first ill-formed UTF-8 sequence in
 * `bytes[start..]`, following Unicode's table of well-formed sequences (no
 * overlongs, no surrogates, nothing above U+10FFFF).
 *
 * @returns `{ index, incomplete }`: `index` is -1 when everything is valid;
 *   `incomplete` is true when the only problem is a sequence cut off by the
 *   end of `bytes` (it may continue in the next chunk).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(findInvalidUtf8(new Uint8Array([0x61, 0xc3, 0x28])), { index: 1, incomplete: false });
 * deepStrictEqual(findInvalidUtf8(new Uint8Array([0x61, 0xe2, 0x82])), { index: 1, incomplete: true });
 * deepStrictEqual(findInvalidUtf8(new TextEncoder().encode("héllo")), { index: -1, incomplete: false });
 * ```
 */
export function findInvalidUtf8(
  bytes: Uint8Array,
  start = 0,
): { index: number; incomplete: boolean } {
  const n = bytes.length;
  let i = start;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number, lo = 0x80, hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return { index: i, incomplete: false };
    for (let k = 1; k <= need; k++) {
      if (i + k >= n) return { index: i, incomplete: true };
      const c = bytes[i + k];
      const min = k === 1 ? lo : 0x80, max = k === 1 ? hi : 0xbf;
      if (c < min || c > max) return { index: i, incomplete: false };
    }
    i += need + 1;
  }
  return { index: -1, incomplete: false };
}

/**
 * Number of `\n` bytes in `bytes[0..end)`.
 *
 * @example Lines in a chunk
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { countNewlines } from "./utf8.ts";
 * strictEqual(countNewlines(new TextEncoder().encode("a\nb\nc")), 2);
 * ```
 */
export function countNewlines(bytes: Uint8Array, end = bytes.length): number {
  let count = 0;
  let i = bytes.indexOf(10);
  while (i !== -1 && i < end) {
    count++;
    i = bytes.indexOf(10, i + 1);
  }
  return count;
}

/**
 * Decodes a stream of UTF-8 chunks one at a time and remembers where it is,
 * so an invalid byte is reported with its offset and line.
 *
 * @example Multi-byte characters split across chunks
 * ```ts
 * import { strictEqual } from "node:assert";
 * const bytes = new TextEncoder().encode("né");
 * const decoder = new Utf8StreamDecoder("example");
 * const text = (await decoder.push(bytes.subarray(0, 2))) + (await decoder.push(bytes.subarray(2))) +
 *   (await decoder.end());
 * strictEqual(text, "né");
 * ```
 *
 * @example An invalid byte
 * ```ts
 * import { rejects } from "node:assert";
 * const decoder = new Utf8StreamDecoder("bad.txt");
 * await rejects(() => decoder.push(new Uint8Array([0x61, 0x0a, 0xff])), /byte offset 2 \(line 2\)/);
 * ```
 */
export class Utf8StreamDecoder {
  readonly #name: string;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  readonly #locateLine?: LineLocator;
  #offset = 0;
  #newlines = 0;
  /** Last up-to-3 bytes seen, to find a bad byte whose sequence began in an earlier chunk. */
  #tail = new Uint8Array(0);

  /**
   * A decoder for one named input.
   *
   * @param name the source, as the user named it (for messages).
   * @param options how to find the line of a bad byte.
   */
  constructor(name: string, options: Utf8StreamDecoderOptions = {}) {
    this.#name = name;
    this.#locateLine = options.locateLine;
  }

  /** Bytes consumed so far. */
  get offset(): number {
    return this.#offset;
  }

  /**
   * Decodes one chunk.
   *
   * @returns the text of every character completed by this chunk.
   * @throws {UsageError} when the chunk holds invalid UTF-8.
   */
  async push(chunk: Uint8Array): Promise<string> {
    let text: string;
    try {
      text = this.#decoder.decode(chunk, { stream: true });
    } catch {
      throw await this.#error(chunk, false);
    }
    if (!this.#locateLine) this.#newlines += countNewlines(chunk);
    this.#remember(chunk);
    this.#offset += chunk.length;
    return text;
  }

  /**
   * Ends the stream.
   *
   * @returns any text still buffered (none for valid input).
   * @throws {UsageError} when the stream ended inside a multi-byte character.
   */
  async end(): Promise<string> {
    try {
      return this.#decoder.decode();
    } catch {
      throw await this.#error(new Uint8Array(0), true);
    }
  }

  #remember(chunk: Uint8Array): void {
    if (chunk.length >= 3) {
      this.#tail = chunk.slice(chunk.length - 3);
    } else {
      const joined = new Uint8Array(this.#tail.length + chunk.length);
      joined.set(this.#tail);
      joined.set(chunk, this.#tail.length);
      this.#tail = joined.slice(Math.max(0, joined.length - 3));
    }
  }

  async #error(chunk: Uint8Array, atEnd: boolean): Promise<UsageError> {
    // Everything before the tail decoded; inside the tail, a continuation byte
    // belongs to a completed sequence, so the first other byte starts a sequence.
    const tail = this.#tail;
    let skip = 0;
    while (skip < tail.length && (tail[skip] & 0xc0) === 0x80) skip++;
    const joined = new Uint8Array(tail.length - skip + chunk.length);
    joined.set(tail.subarray(skip));
    joined.set(chunk, tail.length - skip);
    const base = this.#offset - (tail.length - skip);
    const found = findInvalidUtf8(joined);
    let index = found.index;
    if (index === -1 || (found.incomplete && !atEnd)) index = joined.length - chunk.length;
    const offset = base + index;
    let line: number;
    if (this.#locateLine) {
      line = await this.#locateLine(offset);
    } else {
      // Newlines of earlier chunks are counted; add those of this chunk before the bad byte.
      const before = offset - this.#offset;
      line = this.#newlines + 1 + (before > 0 ? countNewlines(chunk, before) : 0);
    }
    return new UsageError(
      `Cannot decode corpus "${this.#name}": invalid UTF-8 at byte offset ${offset} (line ${line})`,
    );
  }
}

/**
 * Decodes a whole byte buffer strictly: the check every script applies to
 * every text it reads (corpora, labelled data, sentence pairs, `--predict-file`,
 * `--translate-file`, stdin), with the same message as a streamed corpus.
 *
 * @param bytes the bytes.
 * @param name the source, as the user named it (for messages).
 * @throws {UsageError} naming the source, the byte offset and the line of the
 *   first invalid byte.
 *
 * @example
 * ```ts
 * import { rejects, strictEqual } from "node:assert";
 * strictEqual(await decodeUtf8(new TextEncoder().encode("né"), "ok.txt"), "né");
 * await rejects(
 *   () => decodeUtf8(new Uint8Array([0x61, 0x0a, 0x62, 0xff]), "bad.txt"),
 *   /Cannot decode corpus "bad.txt": invalid UTF-8 at byte offset 3 \(line 2\)/,
 * );
 * ```
 */
export async function decodeUtf8(bytes: Uint8Array, name: string): Promise<string> {
  const decoder = new Utf8StreamDecoder(name);
  return (await decoder.push(bytes)) + (await decoder.end());
}

/**
 * Reads a file as strict UTF-8 (see {@linkcode decodeUtf8}).
 *
 * @param path the file.
 * @param name the source for messages. @default path
 * @throws {Deno.errors.NotFound} and the other errors of `Deno.readFile`;
 *   {@linkcode UsageError} for invalid UTF-8.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "go .\n");
 * strictEqual(await readUtf8File(path), "go .\n");
 * ```
 */
export async function readUtf8File(path: string, name: string = path): Promise<string> {
  return await decodeUtf8(await Deno.readFile(path), name);
}
