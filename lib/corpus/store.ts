/**
 * Token stores: an encoded corpus behind one interface, {@linkcode TokenIds},
 * whether it is held in memory or in a compact binary file read with
 * positioned reads (so memory does not grow with the corpus).
 *
 * Ids are stored with the narrowest width that fits the vocabulary: one byte
 * for up to 256 ids, two for up to 65,536, else four (little-endian).
 *
 * @module
 */

/** Bytes per stored id: 1, 2 or 4. */
export type IdWidth = 1 | 2 | 4;

/** A typed array of stored ids. */
export type IdArray = Uint8Array | Uint16Array | Uint32Array;

/**
 * A sequence of token ids, read a slice at a time.
 *
 * Reads are synchronous and positioned; `view` makes a sub-range (for the
 * train/validation split) that shares the storage. Closing a view does
 * nothing: the owner of the store (the loaded corpus) closes it.
 */
export interface TokenIds {
  /** Number of ids. */
  readonly length: number;
  /**
   * The ids `[start, start + count)`.
   *
   * @throws {RangeError} when the range is outside `[0, length)`.
   */
  read(start: number, count: number): Int32Array;
  /** Like {@linkcode TokenIds.read}, into `out[outOffset..outOffset + count)`. */
  readInto(start: number, count: number, out: Int32Array, outOffset?: number): void;
  /** The ids `[start, end)` as a store of their own (no copy). */
  view(start: number, end: number): TokenIds;
  /** Releases the storage (a file handle); a no-op for views and memory stores. */
  close(): void;
}

/**
 * The narrowest width for ids in `[0, limit)`.
 *
 * @example Bytes per id
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { widthFor } from "./store.ts";
 * strictEqual(widthFor(256), 1);
 * strictEqual(widthFor(257), 2);
 * strictEqual(widthFor(70000), 4);
 * ```
 */
export function widthFor(limit: number): IdWidth {
  return limit <= 0x100 ? 1 : limit <= 0x10000 ? 2 : 4;
}

/**
 * A typed array of `width`-byte ids.
 *
 * @example Two-byte ids
 * ```ts
 * import { ok } from "node:assert";
 * import { idArray } from "./store.ts";
 * ok(idArray(2, 3) instanceof Uint16Array);
 * ```
 */
export function idArray(width: IdWidth, length: number): IdArray;
/**
 * A typed array of `width`-byte ids over bytes (`byteOffset` aligned to `width`).
 *
 * @example A view of two-byte ids
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { idArray } from "./store.ts";
 * const bytes = new Uint8Array(Uint16Array.of(1, 2, 3).buffer);
 * deepStrictEqual([...idArray(2, bytes.buffer, 2, 2)], [2, 3]);
 * ```
 */
export function idArray(
  width: IdWidth,
  buffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
): IdArray;
/**
 * The implementation of both forms above.
 *
 * @example Four-byte ids
 * ```ts
 * import { ok } from "node:assert";
 * import { idArray } from "./store.ts";
 * ok(idArray(4, 2) instanceof Uint32Array);
 * ```
 */
export function idArray(
  width: IdWidth,
  a: number | ArrayBufferLike,
  byteOffset = 0,
  length = 0,
): IdArray {
  if (typeof a === "number") {
    return width === 1 ? new Uint8Array(a) : width === 2 ? new Uint16Array(a) : new Uint32Array(a);
  }
  return width === 1
    ? new Uint8Array(a, byteOffset, length)
    : width === 2
    ? new Uint16Array(a, byteOffset, length)
    : new Uint32Array(a, byteOffset, length);
}

function checkRange(start: number, count: number, length: number): void {
  if (
    !Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 ||
    start + count > length
  ) {
    throw new RangeError(`Cannot read ids [${start}, ${start + count}) of ${length}`);
  }
}

function checkView(start: number, end: number, length: number): void {
  if (
    !Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start ||
    end > length
  ) {
    throw new RangeError(`Cannot view ids [${start}, ${end}) of ${length}`);
  }
}

/**
 * What every store of {@linkcode TokenIds} shares: `read` is a new array
 * filled by the store's own `readInto`, so a store writes its reading once.
 *
 * @example A store of ids 0, 1, 2, ...
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { AbstractTokenIds, type TokenIds } from "./store.ts";
 * class Counting extends AbstractTokenIds {
 *   readonly length = 10;
 *   readInto(start: number, count: number, out: Int32Array, outOffset = 0): void {
 *     for (let i = 0; i < count; i++) out[outOffset + i] = start + i;
 *   }
 *   view(): TokenIds {
 *     return this;
 *   }
 *   close(): void {}
 * }
 * deepStrictEqual([...new Counting().read(3, 2)], [3, 4]);
 * ```
 */
export abstract class AbstractTokenIds implements TokenIds {
  abstract readonly length: number;
  abstract readInto(start: number, count: number, out: Int32Array, outOffset?: number): void;
  abstract view(start: number, end: number): TokenIds;
  abstract close(): void;

  read(start: number, count: number): Int32Array {
    const out = new Int32Array(count);
    this.readInto(start, count, out, 0);
    return out;
  }
}

/**
 * Ids held in memory.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const ids = new MemoryTokenIds(new Uint8Array([4, 5, 6, 7]));
 * deepStrictEqual([...ids.view(1, 4).read(1, 2)], [6, 7]);
 * ```
 */
export class MemoryTokenIds extends AbstractTokenIds implements TokenIds {
  readonly #data: IdArray | Int32Array;

  /**
   * Wraps ids already in memory.
   *
   * @param data the ids (not copied).
   */
  constructor(data: IdArray | Int32Array) {
    super();
    this.#data = data;
  }

  get length(): number {
    return this.#data.length;
  }

  readInto(start: number, count: number, out: Int32Array, outOffset = 0): void {
    checkRange(start, count, this.#data.length);
    const data = this.#data;
    if (count <= 64) {
      // A loop beats making a subarray for short reads (random minibatches).
      for (let i = 0; i < count; i++) out[outOffset + i] = data[start + i];
    } else {
      out.set(data.subarray(start, start + count), outOffset);
    }
  }

  view(start: number, end: number): TokenIds {
    checkView(start, end, this.#data.length);
    return new MemoryTokenIds(this.#data.subarray(start, end));
  }

  close(): void {}
}

/** An open id file shared by a store and its views. */
class IdFile {
  readonly file: Deno.FsFile;
  readonly width: IdWidth;
  #scratch = new ArrayBuffer(1 << 16);
  closed = false;

  constructor(file: Deno.FsFile, width: IdWidth) {
    this.file = file;
    this.width = width;
  }

  /** Reads `count` ids from id position `at` into `out[outOffset..)`. */
  readInto(at: number, count: number, out: Int32Array, outOffset: number): void {
    if (this.closed) throw new Error("Cannot read token ids: the store is closed");
    const bytes = count * this.width;
    if (this.#scratch.byteLength < bytes) {
      this.#scratch = new ArrayBuffer(Math.max(bytes, this.#scratch.byteLength * 2));
    }
    const view = new Uint8Array(this.#scratch, 0, bytes);
    this.file.seekSync(at * this.width, Deno.SeekMode.Start);
    let got = 0;
    while (got < bytes) {
      const n = this.file.readSync(view.subarray(got));
      if (n === null || n === 0) {
        throw new Error(`Cannot read token ids: the id file ended at id ${at + got / this.width}`);
      }
      got += n;
    }
    out.set(idArray(this.width, this.#scratch, 0, count), outOffset);
  }
}

/**
 * Ids in a binary file, read with positioned reads; memory use does not
 * depend on the length.
 *
 * @example Ids read from a file
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { FileTokenIds } from "./store.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array(Uint16Array.of(5, 300, 7).buffer));
 * const ids = await FileTokenIds.open(path, 2);
 * deepStrictEqual([...ids.read(1, 2)], [300, 7]);
 * ids.close();
 * await Deno.remove(path);
 * ```
 */
export class FileTokenIds extends AbstractTokenIds implements TokenIds {
  readonly #file: IdFile;
  readonly #base: number;
  readonly #length: number;
  readonly #owner: boolean;

  /**
   * Opens an id file written by {@linkcode TokenStoreWriter} (or any file of
   * little-endian ids of one width).
   */
  static async open(path: string, width: IdWidth): Promise<FileTokenIds> {
    const file = await Deno.open(path, { read: true });
    try {
      const { size } = await file.stat();
      if (size % width !== 0) {
        throw new Error(
          `Cannot open token ids "${path}": ${size} bytes is not a multiple of ${width}`,
        );
      }
      return new FileTokenIds(new IdFile(file, width), 0, size / width, true);
    } catch (error) {
      file.close();
      throw error;
    }
  }

  private constructor(file: IdFile, base: number, length: number, owner: boolean) {
    super();
    this.#file = file;
    this.#base = base;
    this.#length = length;
    this.#owner = owner;
  }

  get length(): number {
    return this.#length;
  }

  /** Bytes per id in the file. */
  get width(): IdWidth {
    return this.#file.width;
  }

  readInto(start: number, count: number, out: Int32Array, outOffset = 0): void {
    checkRange(start, count, this.#length);
    if (count > 0) this.#file.readInto(this.#base + start, count, out, outOffset);
  }

  view(start: number, end: number): TokenIds {
    checkView(start, end, this.#length);
    return new FileTokenIds(this.#file, this.#base + start, end - start, false);
  }

  close(): void {
    if (!this.#owner || this.#file.closed) return;
    this.#file.closed = true;
    this.#file.file.close();
  }
}

/** Where {@linkcode TokenStoreWriter} puts the ids. */
export interface TokenStoreOptions {
  /** Number of ids that will be written. */
  length: number;
  /** Vocabulary size (decides the width). */
  vocabSize: number;
  /** A file path to write to; without it the ids are held in memory. */
  path?: string;
}

/**
 * Writes ids once, in order, then hands back the store.
 *
 * @example In memory
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const writer = await TokenStoreWriter.create({ length: 3, vocabSize: 10 });
 * await writer.write(new Int32Array([1, 2]));
 * await writer.write(new Int32Array([3]));
 * const ids = await writer.finish();
 * deepStrictEqual([...ids.read(0, 3)], [1, 2, 3]);
 * ```
 */
export class TokenStoreWriter {
  /** Bytes per id in the file (1, 2 or 4). */
  readonly width: IdWidth;
  /** Number of ids. */
  readonly length: number;
  readonly #path?: string;
  #memory?: IdArray;
  #file?: Deno.FsFile;
  #buffer?: IdArray;
  #written = 0;

  /** A writer for `options.length` ids. */
  static async create(options: TokenStoreOptions): Promise<TokenStoreWriter> {
    const writer = new TokenStoreWriter(options);
    if (options.path !== undefined) {
      writer.#file = await Deno.open(options.path, { write: true, create: true, truncate: true });
    }
    return writer;
  }

  private constructor(options: TokenStoreOptions) {
    this.width = widthFor(options.vocabSize);
    this.length = options.length;
    this.#path = options.path;
    if (options.path === undefined) this.#memory = idArray(this.width, options.length);
  }

  /** Appends ids (each in `[0, vocabSize)`). */
  async write(ids: Int32Array | Uint32Array | IdArray): Promise<void> {
    if (this.#written + ids.length > this.length) {
      throw new RangeError(`Cannot write ${ids.length} more ids: the store holds ${this.length}`);
    }
    if (this.#memory) {
      this.#memory.set(ids, this.#written);
    } else {
      if (!this.#buffer || this.#buffer.length < ids.length) {
        this.#buffer = idArray(this.width, ids.length);
      }
      const buffer = this.#buffer.subarray(0, ids.length);
      buffer.set(ids);
      await writeAll(this.#file!, new Uint8Array(buffer.buffer, 0, buffer.byteLength));
    }
    this.#written += ids.length;
  }

  /** Appends `idOf[codes[i]]` for every code (maps and writes in one go). */
  async writeMapped(codes: IdArray, idOf: Int32Array): Promise<void> {
    const n = codes.length;
    if (this.#written + n > this.length) {
      throw new RangeError(`Cannot write ${n} more ids: the store holds ${this.length}`);
    }
    let dest: IdArray;
    if (this.#memory) {
      dest = this.#memory.subarray(this.#written, this.#written + n);
    } else {
      if (!this.#buffer || this.#buffer.length < n) this.#buffer = idArray(this.width, n);
      dest = this.#buffer.subarray(0, n);
    }
    for (let i = 0; i < n; i++) dest[i] = idOf[codes[i]];
    if (!this.#memory) {
      await writeAll(this.#file!, new Uint8Array(dest.buffer, 0, dest.byteLength));
    }
    this.#written += n;
  }

  /** Ends writing and opens the store for reading. */
  async finish(): Promise<TokenIds> {
    if (this.#written !== this.length) {
      throw new Error(
        `Cannot finish the token store: ${this.#written} of ${this.length} ids written`,
      );
    }
    if (this.#memory) return new MemoryTokenIds(this.#memory);
    this.#file!.close();
    this.#file = undefined;
    return await FileTokenIds.open(this.#path!, this.width);
  }

  /** Gives up (closes the file; the caller removes it). */
  abort(): void {
    this.#file?.close();
    this.#file = undefined;
  }
}

/**
 * Writes all of `bytes` (a write may take only part).
 *
 * @example Write every byte
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { writeAll } from "./store.ts";
 * const path = await Deno.makeTempFile();
 * const file = await Deno.open(path, { write: true });
 * await writeAll(file, new Uint8Array(1000));
 * file.close();
 * strictEqual((await Deno.stat(path)).size, 1000);
 * await Deno.remove(path);
 * ```
 */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await file.write(bytes.subarray(done));
}
