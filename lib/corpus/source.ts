/**
 * Corpus sources, each opened as a byte stream (Web Streams): a local path,
 * an `http://` or `https://` URL (downloaded once into a cache directory,
 * verified against an optional SHA-256 or SHA-1), `-` for stdin, or any
 * `ReadableStream<Uint8Array>`.
 *
 * A download goes to a `.part` file next to its cache entry and is renamed
 * into place only once complete and verified, so a failed download or a
 * checksum mismatch leaves nothing in the cache.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { UsageError } from "../errors.ts";
import { countNewlines, type LineLocator } from "./utf8.ts";
import { writeAll } from "./store.ts";

/** A corpus source: a path, a URL, `-` (stdin) or a byte stream. */
export type CorpusSource = string | URL | ReadableStream<Uint8Array>;

/** What was opened. */
export interface SourceInfo {
  /** `file`, `url`, `stdin` or `stream`. */
  kind: "file" | "url" | "stdin" | "stream";
  /** The source as the user named it (a path, a URL, `stdin`, or the stream's name). */
  name: string;
  /** The file read: the path, or for a URL the cache entry. */
  path?: string;
  /** For a URL: true when the cache entry was used and nothing was downloaded. */
  fromCache?: boolean;
}

/** An expected digest. */
export interface Checksum {
  /** The hash function of the expected digest. */
  algorithm: "sha256" | "sha1";
  /** Lower-case hex. */
  hex: string;
}

/** A source opened for reading. */
export interface OpenedSource {
  /** Where the bytes came from and how many there were. */
  info: SourceInfo;
  /** The bytes; cancel it to close the source early. */
  stream: ReadableStream<Uint8Array>;
  /** Finds the line of a byte offset by reading the file again (files only). */
  locateLine?: LineLocator;
  /** A checksum the reader must verify while reading (not needed for a fresh download). */
  verify?: Checksum;
  /** Called when that verification fails (drops a bad cache entry). */
  onMismatch?: () => Promise<void>;
}

/** Options of {@linkcode openSource}. */
export interface OpenSourceOptions {
  /** Expected SHA-256 (64 hex digits) or SHA-1 (40), optionally prefixed `sha256:`/`sha1:`. */
  checksum?: string;
  /** Where downloads are kept (default `.cache/corpus`). */
  cacheDir?: string;
  /** Name of a stream source, for messages (default `stream`). */
  sourceName?: string;
  /** Bytes per chunk read from a file (default 1 MiB). */
  chunkBytes?: number;
}

/** The default download cache. */
export const DEFAULT_CACHE_DIR = ".cache/corpus";

/**
 * Parses an expected checksum: 64 hex digits for SHA-256, 40 for SHA-1,
 * optionally prefixed `sha256:` or `sha1:`.
 *
 * @throws {UsageError} for anything else.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(parseChecksum("SHA1:090B5E7E70C295757F55DF93CB0A180B9691891A"),
 *   { algorithm: "sha1", hex: "090b5e7e70c295757f55df93cb0a180b9691891a" });
 * ```
 */
export function parseChecksum(text: string): Checksum {
  const match = /^(?:(sha256|sha1):)?([0-9a-f]+)$/i.exec(text.trim());
  const hex = match?.[2].toLowerCase() ?? "";
  const prefix = match?.[1]?.toLowerCase();
  const algorithm = hex.length === 64 ? "sha256" : hex.length === 40 ? "sha1" : undefined;
  if (!match || algorithm === undefined || (prefix !== undefined && prefix !== algorithm)) {
    throw new UsageError(
      `Cannot use checksum "${text}": expected 64 hex digits (SHA-256) or 40 (SHA-1)`,
    );
  }
  return { algorithm, hex };
}

/**
 * Lower-case hex digest of `bytes`.
 *
 * @example SHA-256 of "abc"
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { hexDigest } from "./source.ts";
 * strictEqual(
 *   hexDigest("sha256", "abc"),
 *   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
 * );
 * ```
 */
export function hexDigest(algorithm: Checksum["algorithm"], bytes: Uint8Array | string): string {
  return createHash(algorithm).update(bytes).digest("hex");
}

/**
 * A file as a stream of `chunkBytes` chunks; the file is closed at the end
 * or when the stream is cancelled.
 *
 * @example Read a file in small chunks
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { fileStream } from "./source.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "hello world");
 * let bytes = 0;
 * for await (const chunk of fileStream(await Deno.open(path), 4)) bytes += chunk.length;
 * strictEqual(bytes, 11);
 * await Deno.remove(path);
 * ```
 */
export function fileStream(file: Deno.FsFile, chunkBytes = 1 << 20): ReadableStream<Uint8Array> {
  let open = true;
  const close = () => {
    if (open) {
      open = false;
      file.close();
    }
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buffer = new Uint8Array(chunkBytes);
      let n: number | null;
      try {
        n = await file.read(buffer);
      } catch (error) {
        close();
        throw error;
      }
      if (n === null) {
        close();
        controller.close();
      } else {
        controller.enqueue(buffer.subarray(0, n));
      }
    },
    cancel: close,
  });
}

/**
 * The 1-based line of a byte offset in a file (counts `\n` before it).
 *
 * @example The line of a byte
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { lineOfOffset } from "./source.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "a\nb\nc");
 * strictEqual(await lineOfOffset(path, 4), 3);
 * await Deno.remove(path);
 * ```
 */
export async function lineOfOffset(path: string, offset: number): Promise<number> {
  let lines = 1, seen = 0;
  const file = await Deno.open(path, { read: true });
  try {
    const buffer = new Uint8Array(1 << 20);
    while (seen < offset) {
      const n = await file.read(buffer.subarray(0, Math.min(buffer.length, offset - seen)));
      if (n === null) break;
      lines += countNewlines(buffer, n);
      seen += n;
    }
  } finally {
    file.close();
  }
  return lines;
}

/**
 * Opens a source for reading.
 *
 * @throws {UsageError} for a missing file, a directory, an unsupported URL,
 *   a failed download or a checksum mismatch on download.
 *
 * @example A stream
 * ```ts
 * import { strictEqual } from "node:assert";
 * const opened = await openSource(new Blob(["hello"]).stream(), { sourceName: "greeting" });
 * strictEqual(opened.info.name, "greeting");
 * strictEqual(await new Response(opened.stream).text(), "hello");
 * ```
 */
export async function openSource(
  source: CorpusSource,
  options: OpenSourceOptions = {},
): Promise<OpenedSource> {
  const checksum = options.checksum === undefined ? undefined : parseChecksum(options.checksum);
  if (source instanceof ReadableStream) {
    return {
      info: { kind: "stream", name: options.sourceName ?? "stream" },
      stream: source,
      verify: checksum,
    };
  }
  if (source === "-") {
    return {
      info: { kind: "stdin", name: "stdin" },
      stream: Deno.stdin.readable,
      verify: checksum,
    };
  }
  const text = String(source);
  if (text === "") throw new UsageError(`Cannot read corpus "": no source given`);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1].toLowerCase();
  if (scheme === "http" || scheme === "https") {
    const url = new URL(text);
    const { path, fromCache } = await fetchToCache(url, {
      checksum,
      cacheDir: options.cacheDir ?? DEFAULT_CACHE_DIR,
    });
    const opened = await openFile(path, url.href, options.chunkBytes);
    return {
      ...opened,
      info: { kind: "url", name: url.href, path, fromCache },
      // A fresh download was verified before it was cached; a cached one is checked again.
      verify: fromCache ? checksum : undefined,
      onMismatch: fromCache ? () => Deno.remove(path).catch(() => {}) : undefined,
    };
  }
  if (scheme !== undefined) {
    throw new UsageError(
      `Cannot read corpus "${text}": only local paths, http(s) URLs and "-" (stdin) are supported`,
    );
  }
  if (source instanceof URL) {
    throw new UsageError(`Cannot read corpus "${text}": unsupported URL`);
  }
  return { ...(await openFile(text, text, options.chunkBytes)), verify: checksum };
}

async function openFile(path: string, name: string, chunkBytes?: number): Promise<OpenedSource> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`Cannot read corpus "${name}": no such file`, { cause: error });
    }
    throw error;
  }
  if (stat.isDirectory) {
    throw new UsageError(`Cannot read corpus "${name}": it is a directory, not a file`);
  }
  const file = await Deno.open(path, { read: true });
  return {
    info: { kind: "file", name, path },
    stream: fileStream(file, chunkBytes),
    locateLine: (offset) => lineOfOffset(path, offset),
  };
}

/** Options of {@linkcode fetchToCache}. */
export interface FetchToCacheOptions {
  /** Verified before the download is kept. */
  checksum?: Checksum;
  /** The cache directory. */
  cacheDir: string;
}

/**
 * The cache entry of a URL, downloaded unless already there. The entry's
 * name depends on the URL and the expected checksum.
 *
 * @returns the entry's path and whether it was already cached.
 * @throws {UsageError} when the request fails, the server answers with an
 *   error status, or the download does not match the checksum; an `Error`
 *   when the transfer breaks off. Nothing is left in the cache then.
 *
 * @example A download, then the cache
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { fetchToCache } from "./source.ts";
 * const cacheDir = await Deno.makeTempDir();
 * const url = new URL("data:text/plain,hello");
 * const first = await fetchToCache(url, { cacheDir });
 * const again = await fetchToCache(url, { cacheDir });
 * strictEqual(await Deno.readTextFile(first.path), "hello");
 * strictEqual(again.fromCache, true);
 * await Deno.remove(cacheDir, { recursive: true });
 * ```
 */
export async function fetchToCache(
  url: URL,
  options: FetchToCacheOptions,
): Promise<{ path: string; fromCache: boolean }> {
  const { checksum, cacheDir } = options;
  const key = hexDigest("sha256", `${url.href}\n${checksum ? checksum.hex : ""}`).slice(0, 16);
  const base = url.pathname.split("/").filter(Boolean).pop()?.replace(/[^A-Za-z0-9._-]/g, "_") ||
    "corpus";
  const path = `${cacheDir}/${key}-${base}`;
  try {
    if ((await Deno.stat(path)).isFile) return { path, fromCache: true };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }

  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new UsageError(`Cannot download corpus "${url.href}": ${messageOf(error)}`, {
      cause: error,
    });
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw new UsageError(
      `Cannot download corpus "${url.href}": HTTP ${response.status} ${response.statusText}`
        .trimEnd(),
    );
  }
  await Deno.mkdir(cacheDir, { recursive: true });
  const part = `${path}.${crypto.randomUUID()}.part`;
  const hash = checksum ? createHash(checksum.algorithm) : undefined;
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(part, { write: true, createNew: true });
    for await (const chunk of response.body) {
      hash?.update(chunk);
      await writeAll(file, chunk);
    }
    file.close();
    file = undefined;
    if (hash && checksum) {
      const actual = hash.digest("hex");
      if (actual !== checksum.hex) {
        throw new UsageError(
          `Cannot download corpus "${url.href}": its ${checksumName(checksum)} is ${actual}, ` +
            `expected ${checksum.hex}`,
        );
      }
    }
    await Deno.rename(part, path);
  } catch (error) {
    file?.close();
    await Deno.remove(part).catch(() => {});
    await response.body.cancel().catch(() => {});
    if (error instanceof UsageError) throw error;
    // The transfer broke off: a failure at run time, not the user's to fix.
    throw new Error(`Cannot download corpus "${url.href}": ${messageOf(error)}`, { cause: error });
  }
  return { path, fromCache: false };
}

/**
 * `SHA-256` or `SHA-1`.
 *
 * @example Name a checksum
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { checksumName, parseChecksum } from "./source.ts";
 * strictEqual(checksumName(parseChecksum("0".repeat(40))), "SHA-1");
 * ```
 */
export function checksumName(checksum: Checksum): string {
  return checksum.algorithm === "sha256" ? "SHA-256" : "SHA-1";
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
