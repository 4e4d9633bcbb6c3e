/**
 * The corpora shipped with the library in its `data/` folder, found from this
 * module's own URL: a local path when the library is a local checkout, an
 * `http(s)://` URL when `mod.ts` was imported over the network (then
 * `loadCorpus` downloads it once into its cache, like any URL corpus). Either
 * way the result works from any working directory.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { UsageError } from "../errors.ts";

/** A corpus in `data/`: its file and the SHA-1 of its bytes. */
export interface BundledCorpusInfo {
  /** The file's name inside `data/`. */
  readonly file: string;
  /** SHA-1 of the file, 40 hex digits (what `loadCorpus`'s `checksum` takes). */
  readonly sha1: string;
  /** Where the text comes from and under which terms (also in `data/README.md`). */
  readonly licence: string;
}

/** The bundled corpora by name. */
export const BUNDLED_CORPORA = {
  /** H. G. Wells, _The Time Machine_: the corpus of d2l's RNN chapters. */
  timemachine: {
    file: "timemachine.txt",
    sha1: "090b5e7e70c295757f55df93cb0a180b9691891a",
    licence: "public domain (Project Gutenberg)",
  },
} as const satisfies Record<string, BundledCorpusInfo>;

/** The name of a bundled corpus. */
export type BundledCorpusName = keyof typeof BUNDLED_CORPORA;

/**
 * Where a bundled corpus is, as a source `loadCorpus` takes: an absolute path
 * for a local library, an `http(s)://` URL for one imported over the network.
 *
 * @param name the corpus (`timemachine`).
 * @param base the library's location; by default this module's own URL.
 * @returns a path or URL that does not depend on the working directory.
 * @throws {UsageError} for an unknown name, or a library loaded from a URL
 *   scheme that cannot serve files (neither `file:` nor `http(s):`).
 *
 * @example Load the time machine from anywhere
 * ```ts
 * import { ok } from "node:assert";
 * import { loadCorpus } from "./load.ts";
 * const source = bundledCorpus("timemachine");
 * ok(source.endsWith("/data/timemachine.txt"));
 * using corpus = await loadCorpus({ source, checksum: BUNDLED_CORPORA.timemachine.sha1 });
 * ok(corpus.tokens > 170_000);
 * ```
 *
 * @example Over HTTP the same call gives a URL
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(
 *   bundledCorpus("timemachine", "http://127.0.0.1:8000/lib/corpus/bundled.ts"),
 *   "http://127.0.0.1:8000/data/timemachine.txt",
 * );
 * ```
 */
export function bundledCorpus(
  name: BundledCorpusName,
  base: string | URL = import.meta.url,
): string {
  if (!Object.hasOwn(BUNDLED_CORPORA, name)) {
    throw new UsageError(
      `Cannot find bundled corpus "${name}": expected one of ${
        Object.keys(BUNDLED_CORPORA).join(", ")
      }`,
    );
  }
  const url = new URL(`../../data/${BUNDLED_CORPORA[name].file}`, base);
  if (url.protocol === "file:") return fileURLToPath(url);
  if (url.protocol === "http:" || url.protocol === "https:") return url.href;
  throw new UsageError(
    `Cannot find bundled corpus "${name}": the library was loaded from "${url.protocol}", ` +
      "expected a file: or http(s): URL",
  );
}
