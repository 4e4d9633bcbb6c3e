/**
 * {@linkcode loadCorpus}: a source in, a vocabulary and encoded train and
 * validation ids out, in two passes whose memory does not grow with the
 * corpus.
 *
 * 1. The source is streamed once: bytes are decoded (strict UTF-8) and
 *    tokenized chunk by chunk, tokens counted, and provisional codes spooled
 *    (in memory up to `memoryLimitBytes`, then in a temporary file).
 * 2. The vocabulary is built from the counts (or taken from `vocab`), and
 *    the spooled codes are mapped to ids and written once to the token store:
 *    in memory when it fits in `memoryLimitBytes`, else a compact binary file
 *    (1, 2 or 4 bytes per id) read with positioned reads.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { UsageError } from "../errors.ts";
import { TokenCounter } from "./_count.ts";
import { Utf8StreamDecoder } from "./utf8.ts";
import {
  checksumName,
  type CorpusSource,
  DEFAULT_CACHE_DIR,
  openSource,
  type SourceInfo,
} from "./source.ts";
import { CodeSpool } from "./_spool.ts";
import { checkValidFraction, DEFAULT_VALID_FRACTION, splitTrainValid } from "./split.ts";
import { type TokenIds, TokenStoreWriter, widthFor } from "./store.ts";
import { TempDir } from "./_temp.ts";
import {
  createTokenizer,
  type Normalization,
  NORMALIZATIONS,
  TOKEN_KINDS,
  type TokenKind,
} from "./tokenize.ts";
import { Vocab } from "./vocab.ts";

/** The default in-memory budget of the loader (bytes). */
export const DEFAULT_MEMORY_LIMIT_BYTES = 32 * 1024 * 1024;

/** Bytes decoded and tokenized at a time. */
const DECODE_SLICE_BYTES = 1 << 16;

/** What to load and how. */
export interface LoadCorpusOptions {
  /**
   * A local path, an `http://` or `https://` URL (downloaded once into
   * `cacheDir`), `-` for stdin, or a byte stream.
   */
  source: CorpusSource;
  /** A name for a stream source in messages (default `stream`). */
  sourceName?: string;
  /** `char` or `word` tokens. Default `char`, or the kind of `vocab`. */
  token?: TokenKind;
  /** `d2l` or `raw` normalisation. Default `d2l`, or that of `vocab`. */
  normalize?: Normalization;
  /** Tokens seen fewer times become `<unk>`. Default 0. Ignored with `vocab`. */
  minFreq?: number;
  /** Tokens given ids right after `<unk>`. Default none. Ignored with `vocab`. */
  reserved?: readonly string[];
  /** Share of tokens held out at the end for validation, in `[0, 1)`. Default 0.1. */
  validFraction?: number;
  /**
   * Expected SHA-256 (64 hex digits) or SHA-1 (40) of the source's bytes,
   * optionally prefixed `sha256:` or `sha1:`. A URL is verified before it is
   * cached; any other source while it is read.
   */
  checksum?: string;
  /** Where downloaded corpora are kept. Default `.cache/corpus`. */
  cacheDir?: string;
  /**
   * An existing vocabulary (e.g. from a checkpoint) to encode with instead
   * of building one; tokens outside it become `<unk>` and are counted in
   * {@linkcode Corpus.unknownTokens}.
   */
  vocab?: Vocab;
  /**
   * Bytes the loader may hold in memory: spooled codes beyond this go to a
   * temporary file, and an encoded corpus larger than this is stored in a
   * file. Default 32 MiB.
   */
  memoryLimitBytes?: number;
  /** `auto` (default: by `memoryLimitBytes`), or force `memory` or `file` storage. */
  storage?: "auto" | "memory" | "file";
  /** Where temporary files go (default: the system's temp directory). */
  tempDir?: string;
}

/** A loaded corpus. Call {@linkcode Corpus.close} to release its temporary files. */
export interface Corpus {
  /** The vocabulary the ids refer to (built, or the one given). */
  vocab: Vocab;
  /** The training ids: all but the last `validFraction`. */
  train: TokenIds;
  /** The validation ids: the last `floor(tokens * validFraction)`. */
  valid: TokenIds;
  /** Tokens in the whole corpus (train + valid). */
  tokens: number;
  /** Tokens encoded as `<unk>`: outside the given `vocab`, or rarer than `minFreq`. */
  unknownTokens: number;
  /** The source as named in messages: the path, the URL, `stdin`, or the stream's name. */
  source: string;
  /** More about the source (kind, cached path, whether a download was needed). */
  sourceInfo: SourceInfo;
  /** Where the ids are: `memory` or `file`. */
  storage: "memory" | "file";
  /** Bytes of the source that were read. */
  bytes: number;
  /** Closes the token store and removes temporary files (safe to call twice). */
  close(): void;
  /** Same as {@linkcode Corpus.close}, for `using`. */
  [Symbol.dispose](): void;
}

/**
 * Loads, tokenizes and encodes a corpus.
 *
 * @throws {UsageError} for a bad option, a missing file, a directory, a
 *   failed download, a checksum mismatch, invalid UTF-8 (with the byte
 *   offset and line), or a corpus with no tokens.
 *
 * @example The d2l time machine, character level
 * ```ts
 * import { deepStrictEqual, strictEqual } from "node:assert";
 * const corpus = await loadCorpus({ source: "data/timemachine.txt", validFraction: 0 });
 * strictEqual(corpus.tokens, 170580);
 * strictEqual(corpus.vocab.size, 28);
 * deepStrictEqual(corpus.vocab.tokens.slice(0, 5), ["<unk>", " ", "e", "t", "a"]);
 * strictEqual(corpus.vocab.decode(corpus.train.read(0, 8)), "the time");
 * corpus.close();
 * ```
 *
 * @example A stream, word level, with a vocabulary from elsewhere
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { Vocab } from "./vocab.ts";
 * const vocab = Vocab.build(["the", "time", "machine"], { token: "word" });
 * const corpus = await loadCorpus({
 *   source: new Blob(["The time traveller's machine"]).stream(),
 *   vocab,
 *   validFraction: 0,
 * });
 * strictEqual(corpus.tokens, 5); // the time traveller s machine
 * strictEqual(corpus.unknownTokens, 2);
 * corpus.close();
 * ```
 */
export async function loadCorpus(options: LoadCorpusOptions): Promise<Corpus> {
  const settings = checkOptions(options);
  const temp = new TempDir(options.tempDir);
  const opened = await openSource(options.source, {
    checksum: options.checksum,
    cacheDir: options.cacheDir ?? DEFAULT_CACHE_DIR,
    sourceName: options.sourceName,
  });
  const name = opened.info.name;
  const spool = new CodeSpool({ memoryLimitBytes: settings.memoryLimitBytes, temp });
  let writer: TokenStoreWriter | undefined;
  let store: TokenIds | undefined;
  try {
    // Pass 1: decode, tokenize, count, spool.
    const tokenizer = createTokenizer(settings);
    const counter = new TokenCounter();
    const decoder = new Utf8StreamDecoder(name, { locateLine: opened.locateLine });
    const hash = opened.verify ? createHash(opened.verify.algorithm) : undefined;
    const reader = opened.stream.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (!(value instanceof Uint8Array)) {
          throw new TypeError(`Cannot read corpus "${name}": the stream gave a non-byte chunk`);
        }
        hash?.update(value);
        // Slices keep each decoded string small enough for V8's young generation,
        // so they are freed at once instead of piling up until a full collection.
        for (let at = 0; at < value.length; at += DECODE_SLICE_BYTES) {
          const bytes = value.subarray(at, at + DECODE_SLICE_BYTES);
          const codes = tokenizer.push(bytes, await decoder.push(bytes));
          counter.add(codes, codes.length, tokenizer.codeLimit);
          await spool.push(codes, codes.length, tokenizer.codeLimit);
        }
      }
      for (
        const codes of [tokenizer.push(new Uint8Array(0), await decoder.end()), tokenizer.end()]
      ) {
        counter.add(codes, codes.length, tokenizer.codeLimit);
        await spool.push(codes, codes.length, tokenizer.codeLimit);
      }
    } catch (error) {
      await reader.cancel().catch(() => {});
      throw error;
    } finally {
      reader.releaseLock();
    }
    const bytes = decoder.offset;

    if (hash && opened.verify) {
      const actual = hash.digest("hex");
      if (actual !== opened.verify.hex) {
        await opened.onMismatch?.();
        throw new UsageError(
          `Cannot load corpus "${name}": its ${checksumName(opened.verify)} is ${actual}, ` +
            `expected ${opened.verify.hex}`,
        );
      }
    }
    const tokens = counter.total;
    if (tokens === 0) {
      throw new UsageError(
        `Cannot load corpus "${name}": it has no ${settings.token} tokens after ` +
          `${settings.normalize} normalisation (${bytes} bytes read)`,
      );
    }

    // The vocabulary, and each code's id.
    const codes = counter.firstSeen();
    const vocab = options.vocab ?? Vocab.fromCounts(
      codes.map((code) => [tokenizer.tokenOf(code), counter.count(code)] as const),
      {
        token: settings.token,
        normalize: settings.normalize,
        minFreq: options.minFreq,
        reserved: options.reserved,
      },
    );
    const idOfCode = new Int32Array(tokenizer.codeLimit);
    let unknownTokens = 0;
    for (const code of codes) {
      const id = vocab.idOf(tokenizer.tokenOf(code));
      idOfCode[code] = id;
      if (id === 0) unknownTokens += counter.count(code);
    }

    // Pass 2: map the spooled codes to ids, write the store once.
    const storage = settings.storage === "auto"
      ? (tokens * widthFor(vocab.size) > settings.memoryLimitBytes ? "file" : "memory")
      : settings.storage;
    writer = await TokenStoreWriter.create({
      length: tokens,
      vocabSize: vocab.size,
      path: storage === "file" ? `${await temp.ensure()}/ids.bin` : undefined,
    });
    for await (const chunk of spool.replay()) await writer.writeMapped(chunk, idOfCode);
    spool.close();
    store = await writer.finish();
    writer = undefined;

    const { train, valid } = splitTrainValid(store, settings.validFraction);
    const owned = store;
    const close = () => {
      owned.close();
      temp.release();
    };
    return {
      vocab,
      train,
      valid,
      tokens,
      unknownTokens,
      source: name,
      sourceInfo: opened.info,
      storage,
      bytes,
      close,
      [Symbol.dispose]: close,
    };
  } catch (error) {
    if (!opened.stream.locked) await opened.stream.cancel().catch(() => {});
    writer?.abort();
    store?.close();
    spool.close();
    temp.release();
    throw error;
  }
}

interface Settings {
  token: TokenKind;
  normalize: Normalization;
  validFraction: number;
  memoryLimitBytes: number;
  storage: "auto" | "memory" | "file";
}

function checkOptions(options: LoadCorpusOptions): Settings {
  const vocab = options.vocab;
  if (vocab !== undefined && !(vocab instanceof Vocab)) {
    throw new TypeError("Cannot load corpus: vocab is not a Vocab (use Vocab.fromJSON)");
  }
  const token = options.token ?? vocab?.token ?? "char";
  const normalize = options.normalize ?? vocab?.normalize ?? "d2l";
  if (!TOKEN_KINDS.includes(token)) {
    throw new UsageError(`Cannot load corpus: token "${token}" is not one of char, word`);
  }
  if (!NORMALIZATIONS.includes(normalize)) {
    throw new UsageError(`Cannot load corpus: normalize "${normalize}" is not one of d2l, raw`);
  }
  if (vocab && (vocab.token !== token || vocab.normalize !== normalize)) {
    throw new UsageError(
      `Cannot load corpus with ${token} tokens and ${normalize} normalisation: the vocabulary ` +
        `has ${vocab.token} tokens and ${vocab.normalize} normalisation`,
    );
  }
  const validFraction = options.validFraction ?? DEFAULT_VALID_FRACTION;
  checkValidFraction(validFraction);
  const memoryLimitBytes = options.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT_BYTES;
  if (!(memoryLimitBytes >= 0)) {
    throw new UsageError(`Cannot load corpus: memoryLimitBytes ${memoryLimitBytes} is not >= 0`);
  }
  const storage = options.storage ?? "auto";
  if (!["auto", "memory", "file"].includes(storage)) {
    throw new UsageError(`Cannot load corpus: storage "${storage}" is not auto, memory or file`);
  }
  if (vocab === undefined) {
    // Fail before reading the source.
    Vocab.fromCounts([], {
      token,
      normalize,
      minFreq: options.minFreq,
      reserved: options.reserved,
    });
  }
  return { token, normalize, validFraction, memoryLimitBytes, storage };
}
