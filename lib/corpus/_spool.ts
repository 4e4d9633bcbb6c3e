/**
 * The first pass's scratch space: token codes in chunks, each stored with
 * the narrowest width that fits the codes seen so far. Chunks stay in memory
 * up to a limit, then everything goes to a temporary file, so a corpus read
 * from stdin or a URL is read only once whatever its size.
 *
 * @module
 */
import { type IdArray, idArray, type IdWidth, widthFor, writeAll } from "./store.ts";
import type { TempDir } from "./_temp.ts";

/** Options of {@linkcode CodeSpool}. */
export interface CodeSpoolOptions {
  /** Bytes of chunks held in memory before spilling to a file. */
  memoryLimitBytes: number;
  /** Where the spill file goes. */
  temp: TempDir;
}

const HEADER_BYTES = 8;

/**
 * Code chunks written once and replayed once, in order.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { TempDir } from "./_temp.ts";
 * const spool = new CodeSpool({ memoryLimitBytes: 1 << 20, temp: new TempDir() });
 * await spool.push(new Uint32Array([3, 1, 4]), 3, 5);
 * await spool.push(new Uint32Array([1000, 5]), 2, 1001);
 * const seen: number[] = [];
 * for await (const chunk of spool.replay()) seen.push(...chunk);
 * deepStrictEqual(seen, [3, 1, 4, 1000, 5]);
 * spool.close();
 * ```
 */
export class CodeSpool {
  readonly #limit: number;
  readonly #temp: TempDir;
  readonly #chunks: IdArray[] = [];
  #memoryBytes = 0;
  #path?: string;
  #file?: Deno.FsFile;

  constructor(options: CodeSpoolOptions) {
    this.#limit = options.memoryLimitBytes;
    this.#temp = options.temp;
  }

  /** Whether the chunks went to a file. */
  get spilled(): boolean {
    return this.#path !== undefined;
  }

  /**
   * Stores `codes[0..n)`.
   *
   * @param codeLimit one more than the largest code (decides the width).
   */
  async push(codes: Uint8Array | Uint32Array, n: number, codeLimit: number): Promise<void> {
    if (n === 0) return;
    const width: IdWidth = widthFor(codeLimit);
    if (this.#path === undefined && this.#memoryBytes + n * width <= this.#limit) {
      const chunk = idArray(width, n);
      chunk.set(codes.subarray(0, n));
      this.#chunks.push(chunk);
      this.#memoryBytes += chunk.byteLength;
      return;
    }
    if (this.#path === undefined) await this.#spill();
    const record = new ArrayBuffer(HEADER_BYTES + n * width);
    new Uint32Array(record, 0, 2).set([width, n]);
    idArray(width, record, HEADER_BYTES, n).set(codes.subarray(0, n));
    await writeAll(this.#file!, new Uint8Array(record));
  }

  /**
   * The chunks in order. A chunk read from the file is only valid until the
   * next one is asked for.
   */
  async *replay(): AsyncGenerator<IdArray> {
    if (this.#path === undefined) {
      yield* this.#chunks;
      return;
    }
    this.#file!.close();
    this.#file = undefined;
    const file = await Deno.open(this.#path, { read: true });
    try {
      const header = new Uint8Array(HEADER_BYTES);
      let scratch = new ArrayBuffer(1 << 20);
      while (await readFull(file, header)) {
        const [width, n] = new Uint32Array(header.buffer, 0, 2);
        if (scratch.byteLength < n * width) scratch = new ArrayBuffer(n * width);
        if (!await readFull(file, new Uint8Array(scratch, 0, n * width))) {
          throw new Error(`Cannot replay token codes: "${this.#path}" is truncated`);
        }
        yield idArray(width as IdWidth, scratch, 0, n);
      }
    } finally {
      file.close();
    }
  }

  /** Drops the chunks and removes the file. */
  close(): void {
    this.#chunks.length = 0;
    this.#file?.close();
    this.#file = undefined;
    if (this.#path !== undefined) {
      try {
        Deno.removeSync(this.#path);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
  }

  async #spill(): Promise<void> {
    const dir = await this.#temp.ensure();
    this.#path = `${dir}/codes.spool`;
    this.#file = await Deno.open(this.#path, { write: true, createNew: true });
    const held = this.#chunks.splice(0);
    this.#memoryBytes = 0;
    for (const chunk of held) {
      const width = chunk.BYTES_PER_ELEMENT;
      const record = new ArrayBuffer(HEADER_BYTES + chunk.byteLength);
      new Uint32Array(record, 0, 2).set([width, chunk.length]);
      new Uint8Array(record, HEADER_BYTES).set(
        new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
      );
      await writeAll(this.#file, new Uint8Array(record));
    }
  }
}

/** Fills `bytes` from the file; false at a clean end of file before any byte. */
async function readFull(file: Deno.FsFile, bytes: Uint8Array): Promise<boolean> {
  let got = 0;
  while (got < bytes.length) {
    const n = await file.read(bytes.subarray(got));
    if (n === null) {
      if (got === 0) return false;
      throw new Error("Cannot replay token codes: the spool file ends inside a record");
    }
    got += n;
  }
  return true;
}
