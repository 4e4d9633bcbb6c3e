/**
 * Benchmark of the streaming corpus loader (not a test).
 *
 * For each size, writes a text file of that many bytes (the time machine,
 * repeated) in a temporary directory, streams it through `loadCorpus` and
 * one epoch of `sequentialBatches`, and reports tokens per second and the
 * peak resident set size (sampled `Deno.memoryUsage().rss`), then deletes
 * everything it wrote.
 *
 * ```sh
 * deno run -A scripts/bench_corpus.ts                      # 100MB and 1GB, char tokens
 * deno run -A scripts/bench_corpus.ts --sizes 10MB --token word --json
 * ```
 *
 * `deno task bench corpus --help` lists the flags (the table below, parsed by
 * `_cli.ts` like every script's); `--json` prints one JSON object per size:
 * `{"event":"bench","impl":"corpus","sizeBytes",...,"tokensPerSec","peakRssMB"}`.
 * By default each size runs in a child process of its own (which needs
 * `--allow-run`), so that peak RSS is measured per size.
 *
 * @module
 */
import { UsageError } from "../lib/errors.ts";
import { Rng } from "../lib/rng.ts";
import { loadCorpus } from "../lib/corpus/load.ts";
import { sequentialBatches } from "../lib/corpus/batches.ts";
import {
  type Normalization,
  NORMALIZATIONS,
  TOKEN_KINDS,
  type TokenKind,
} from "../lib/corpus/tokenize.ts";
import { defineFlags, helpText, parseFlags, runMain } from "./_cli.ts";
import { BATCH_SIZE_FLAG, JSON_FLAG, NUM_STEPS_FLAG } from "./_task_flags.ts";

/** One size's result (also the `--json` record). */
export interface CorpusBenchResult {
  event: "bench";
  impl: "corpus";
  sizeBytes: number;
  token: TokenKind;
  normalize: Normalization;
  tokens: number;
  vocabSize: number;
  storage: "memory" | "file";
  batchSize: number;
  numSteps: number;
  batches: number;
  /** Seconds in `loadCorpus` (both passes). */
  loadSec: number;
  /** Seconds for one epoch of sequential minibatches over the training ids. */
  epochSec: number;
  /** Corpus tokens / (load + epoch seconds). */
  tokensPerSec: number;
  /** Corpus tokens / load seconds. */
  loadTokensPerSec: number;
  /** Resident set size before loading (MB, 2^20 bytes). */
  rssStartMB: number;
  /** Peak resident set size while loading and iterating (MB, 2^20 bytes). */
  peakRssMB: number;
}

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
};

/** Parses `100MB`, `1GiB`, `4096`. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = match ? UNITS[(match[2] || "b").toLowerCase()] : undefined;
  const bytes = match && unit ? Math.round(Number(match[1]) * unit) : NaN;
  if (!(bytes > 0)) {
    throw new UsageError(
      `Cannot use size "${text}": expected a number with B, KB, MB, GB (or KiB, MiB, GiB)`,
    );
  }
  return bytes;
}

/** Parses `100MB,1GB` into byte counts; at least one. */
function parseSizes(text: string): number[] {
  const sizes = text.split(",").filter((s) => s.trim() !== "").map(parseSize);
  if (sizes.length === 0) throw new UsageError(`Cannot use sizes "${text}": expected at least one`);
  return sizes;
}

/** The flags of `deno task bench corpus`. */
export const BENCH_CORPUS_FLAGS = defineFlags(
  [
    {
      name: "sizes",
      type: "string",
      default: "100MB,1GB",
      valueName: "sizes",
      validate: (v) => {
        try {
          parseSizes(v as string);
          return undefined;
        } catch {
          return "expected sizes like 100MB,1GB (units B, KB, MB, GB, KiB, MiB, GiB)";
        }
      },
      help: "Comma-separated file sizes: B, KB, MB, GB are powers of 1000; KiB, MiB, GiB of 1024.",
    },
    { name: "token", type: "choice", choices: TOKEN_KINDS, default: "char", help: "Tokens." },
    {
      name: "normalize",
      type: "choice",
      choices: NORMALIZATIONS,
      default: "d2l",
      help: "d2l: letters only, lower-cased; raw: every character.",
    },
    BATCH_SIZE_FLAG,
    NUM_STEPS_FLAG,
    { name: "seed", type: "integer", default: 0, help: "Seed of the minibatch offsets." },
    {
      name: "temp-dir",
      type: "string",
      help: "Where the generated file goes (default: the system's temporary directory).",
    },
    JSON_FLAG,
    {
      name: "in-process",
      type: "boolean",
      help: "Run every size in this process (by default one child process per size, which " +
        "needs --allow-run, so that peak RSS is measured per size).",
    },
  ] as const,
);

const SUMMARY = "Stream generated text (the time machine, repeated) through the corpus loader " +
  "and one epoch of sequential minibatches; report tokens/s and peak RSS per size.";

/** Writes `size` bytes of the time machine, repeated, to `path`. */
async function writeText(path: string, size: number): Promise<void> {
  const source = await Deno.readFile(new URL("../data/timemachine.txt", import.meta.url));
  const block = new Uint8Array(Math.ceil((4 << 20) / source.length) * source.length);
  for (let at = 0; at < block.length; at += source.length) block.set(source, at);
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (let left = size; left > 0;) {
      const part = block.subarray(0, Math.min(left, block.length));
      let done = 0;
      while (done < part.length) done += await file.write(part.subarray(done));
      left -= part.length;
    }
  } finally {
    file.close();
  }
}

const MB = 2 ** 20;

/** Runs the benchmark for one size. */
async function benchOne(
  path: string,
  sizeBytes: number,
  options: {
    token: TokenKind;
    normalize: Normalization;
    batchSize: number;
    numSteps: number;
    seed: number;
    tempDir: string;
  },
): Promise<CorpusBenchResult> {
  const rssStart = Deno.memoryUsage().rss;
  let peak = rssStart;
  const sample = () => {
    const rss = Deno.memoryUsage().rss;
    if (rss > peak) peak = rss;
  };
  const timer = setInterval(sample, 10);
  try {
    const t0 = performance.now();
    using corpus = await loadCorpus({
      source: path,
      token: options.token,
      normalize: options.normalize,
      tempDir: options.tempDir,
    });
    const t1 = performance.now();
    sample();
    const epoch = sequentialBatches(corpus.train, {
      batchSize: options.batchSize,
      numSteps: options.numSteps,
      rng: new Rng(options.seed),
    });
    let batches = 0, checksum = 0;
    for (const batch of epoch) {
      checksum += batch.x[0] + batch.y[batch.y.length - 1];
      if ((++batches & 255) === 0) sample(); // the loop is synchronous: sample here too
    }
    const t2 = performance.now();
    sample();
    if (batches !== epoch.numBatches || !Number.isFinite(checksum)) {
      throw new Error(`Benchmark epoch yielded ${batches} of ${epoch.numBatches} batches`);
    }
    const loadSec = (t1 - t0) / 1000, epochSec = (t2 - t1) / 1000;
    return {
      event: "bench",
      impl: "corpus",
      sizeBytes,
      token: options.token,
      normalize: options.normalize,
      tokens: corpus.tokens,
      vocabSize: corpus.vocab.size,
      storage: corpus.storage,
      batchSize: options.batchSize,
      numSteps: options.numSteps,
      batches,
      loadSec: round(loadSec, 3),
      epochSec: round(epochSec, 3),
      tokensPerSec: Math.round(corpus.tokens / (loadSec + epochSec)),
      loadTokensPerSec: Math.round(corpus.tokens / loadSec),
      rssStartMB: round(rssStart / MB, 1),
      peakRssMB: round(peak / MB, 1),
    };
  } finally {
    clearInterval(timer);
  }
}

/** Whether `args[i]` is `--sizes`, `--sizes=...`, or the value after `--sizes`. */
function isSizesFlag(args: string[], i: number): boolean {
  return args[i] === "--sizes" || args[i].startsWith("--sizes=") || args[i - 1] === "--sizes";
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

/**
 * Runs the benchmark with command-line style arguments and prints one line
 * per size (JSON with `--json`).
 *
 * @throws {UsageError} for a bad flag.
 */
export async function benchCorpus(args: string[]): Promise<void> {
  const { values } = parseFlags(BENCH_CORPUS_FLAGS, args);
  if (values.help) {
    console.log(helpText("deno task bench corpus", SUMMARY, BENCH_CORPUS_FLAGS));
    return;
  }
  const sizes = parseSizes(values.sizes);
  const { token, normalize, batchSize, numSteps, seed } = values;

  if (sizes.length > 1 && !values.inProcess) {
    // One child process per size, so one size's peak RSS does not carry into the next.
    for (const size of sizes) {
      const childArgs = args.filter((_, i) => !isSizesFlag(args, i));
      const { code } = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-read",
          "--allow-write",
          "--allow-env",
          "--allow-sys",
          import.meta.filename!,
          ...childArgs,
          `--sizes=${size}B`,
        ],
        stdout: "inherit",
        stderr: "inherit",
      }).output();
      if (code !== 0) throw new Error(`bench_corpus for ${size} bytes exited with code ${code}`);
    }
    return;
  }

  const dir = await Deno.makeTempDir({ dir: values.tempDir, prefix: "bench-corpus-" });
  try {
    for (const sizeBytes of sizes) {
      const path = `${dir}/corpus-${sizeBytes}.txt`;
      await writeText(path, sizeBytes);
      const result = await benchOne(path, sizeBytes, {
        token,
        normalize,
        batchSize,
        numSteps,
        seed,
        tempDir: dir,
      });
      await Deno.remove(path);
      if (values.json) {
        console.log(JSON.stringify(result));
      } else {
        console.log(
          `corpus ${(sizeBytes / 1e6).toFixed(0)} MB (${token}/${normalize}, ${result.storage}): ` +
            `${result.tokens} tokens, vocab ${result.vocabSize}, load ${result.loadSec} s, ` +
            `epoch ${result.epochSec} s (${result.batches} batches), ` +
            `${(result.tokensPerSec / 1e6).toFixed(1)} M tokens/s, ` +
            `peak RSS ${result.peakRssMB} MB (start ${result.rssStartMB} MB)`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await runMain(benchCorpus);
