/**
 * Training throughput of the d2l character model (one-hot input, vocabulary
 * 28, batch 32, 35 steps, 256 hidden, dense output, softmax cross-entropy,
 * SGD lr 1, gradient clipping by global norm 1, sequential minibatches that
 * carry the detached state) for three implementations, side by side in one run:
 *
 * - `project`: the library's `LanguageModel` and `trainStep` (fused kernels, `linear` output);
 * - `tfjs-layers`: what a TypeScript user writes today, `tf.layers.lstm` /
 *   `gru` / `simpleRNN` + `tf.layers.dense` on the same backend, trained with
 *   `tf.variableGrads`, the same clipping and SGD;
 * - `pytorch-*`: the reference trainer in scripts/torch_anchor.py
 *   (PyTorch on the CPU), step-by-step cells and nn.LSTM/GRU/RNN.
 *
 * Each figure is the median of several timed windows after warm-up steps.
 * Table on stdout, progress on stderr; `--json` prints one JSON object per row.
 *
 * Usage: deno run -A scripts/bench_train.ts [--cells lstm] [--backend wasm] [--json]
 *
 * @module
 */
import { cpus } from "node:os";
import process from "node:process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { addAll, BACKEND_REQUESTS, type BackendInfo, describeBackend, tf } from "../lib/tf.ts";
import {
  defineFlags,
  helpText,
  listOf,
  nonNegativeInteger,
  parseFlags,
  positiveInteger,
} from "./_cli.ts";
import { UsageError } from "../lib/errors.ts";
import { Rng } from "../lib/rng.ts";
import { CELL_KINDS, type CellKind } from "../lib/cells/types.ts";

import { LanguageModel, modelConfig } from "../lib/lm/model.ts";
import { makeOptimizer, trainStep as modelTrainStep } from "../lib/training/train.ts";
import { disposeStates } from "../lib/cells/state.ts";
import type { State } from "../lib/cells/types.ts";
import { loadCorpus } from "../lib/corpus/load.ts";
import { runTorch } from "./_bench_torch.ts";
import { profileProject } from "./_bench_profile.ts";
import { startThreadedWasm } from "./_wasm_threads.ts";
import { startBackend } from "./_backend.ts";
import { probeCores, reportCores } from "./_core_probe.ts";
import { THREADS_FLAG } from "./_task_flags.ts";
import {
  BATCH,
  type BenchOptions,
  CLIP,
  HIDDEN,
  INIT_STD,
  LR,
  median,
  NUM_STEPS,
  progress,
  trainStep,
} from "./_bench_common.ts";

/** What `--impls` may name: `masked` and `mixed` are the project with variable-length batches. */
const IMPLS = ["project", "masked", "mixed", "layers", "torch"];

/** The flags of `deno task bench [train]`. */
export const BENCH_TRAIN_FLAGS = defineFlags(
  [
    {
      name: "cells",
      type: "string",
      default: "rnn,gru,lstm",
      valueName: "list",
      validate: listOf(
        (c) => (CELL_KINDS as readonly string[]).includes(c),
        `expected some of ${CELL_KINDS.join(", ")}, comma-separated`,
      ),
      help: "Cell kinds, comma-separated.",
    },
    {
      name: "backend",
      type: "choice",
      choices: BACKEND_REQUESTS,
      default: "wasm",
      help: "tfjs backend.",
    },
    {
      name: "steps",
      type: "integer",
      default: 10,
      validate: positiveInteger,
      help: "Timed minibatches per window.",
    },
    {
      name: "windows",
      type: "integer",
      default: 3,
      validate: positiveInteger,
      help: "Timed windows (the figure is their median).",
    },
    {
      name: "warmup",
      type: "integer",
      validate: nonNegativeInteger,
      help:
        "Untimed minibatches first (default: as many as are timed, windows x steps: the PyTorch peer " +
        "warms up on one untimed epoch before the one it times).",
    },
    {
      name: "impls",
      type: "string",
      default: "project,masked,mixed,layers,torch",
      valueName: "list",
      validate: listOf((i) => IMPLS.includes(i), `expected some of ${IMPLS.join(", ")}`),
      help: "Which implementations to run, comma-separated.",
    },
    { name: "corpus", type: "string", help: "Text file (default: data/timemachine.txt)." },
    {
      name: "torch",
      type: "string",
      help: "Path to torch_anchor.py, or none (default: scripts/torch_anchor.py).",
    },
    {
      name: "torch-epochs",
      type: "integer",
      default: 1,
      validate: positiveInteger,
      help: "Timed PyTorch epochs (plus one warm-up).",
    },
    {
      name: "torch-threads",
      type: "string",
      default: "1,2",
      valueName: "list",
      validate: listOf((t) => /^[1-9]\d*$/.test(t), "expected integers >= 1, comma-separated"),
      help: "PyTorch threads, comma-separated.",
    },
    {
      name: "torch-chars",
      type: "integer",
      default: 40000,
      validate: nonNegativeInteger,
      help: "Corpus characters PyTorch trains on (0: all; keeps each model near a minute).",
    },
    {
      name: "wasm-simd",
      type: "choice",
      choices: ["on", "off"],
      default: "on",
      help: "wasm SIMD build (experiment).",
    },
    {
      name: "wasm-threads",
      type: "integer",
      default: 0,
      validate: nonNegativeInteger,
      help: "Start tfjs-wasm's threaded build with N threads (experiment; 0: tfjs default).",
    },
    THREADS_FLAG,
    { name: "profile", type: "boolean", help: "Time the parts of a project step." },
    { name: "json", type: "boolean", help: "One JSON object per row on stdout." },
  ] as const,
);

/** Parsed, validated options. */

const REPO = fileURLToPath(new URL("..", import.meta.url));

/** Parses argv into options; null for `--help`. Throws {@linkcode UsageError} on bad input. */
export type { BenchOptions };

export function parseBenchArgs(args: string[]): BenchOptions | null {
  const { values } = parseFlags(BENCH_TRAIN_FLAGS, args);
  if (values.help) return null;
  const list = (text: string) => text.split(",").map((s) => s.trim()).filter(Boolean);
  const impls = new Set(list(values.impls));
  const corpus = values.corpus || `${REPO}data/timemachine.txt`;
  if (!existsSync(corpus)) throw new UsageError(`Cannot read corpus "${corpus}": no such file`);
  let torch: string | null = values.torch || `${REPO}scripts/torch_anchor.py`;
  if (values.torch === "none" || !impls.has("torch")) torch = null;
  return {
    cells: list(values.cells) as CellKind[],
    backend: values.backend,
    steps: values.steps,
    windows: values.windows,
    // As many untimed minibatches as timed ones, as the peer does (an untimed epoch, then a timed
    // one): three warm-up steps left the native backend's first windows paying for fresh memory
    // and V8's first compilations that PyTorch had long paid outside its timing.
    warmup: values.warmup ?? values.windows * values.steps,
    impls,
    corpus,
    torch,
    torchEpochs: values.torchEpochs,
    torchThreads: list(values.torchThreads).map(Number),
    torchChars: values.torchChars,
    wasmSimd: values.wasmSimd === "on",
    wasmThreads: values.wasmThreads,
    threads: values.threads,
    profile: values.profile,
    json: values.json,
  };
}

function usage(): string {
  return helpText(
    "deno task bench [train]",
    "Training throughput of the d2l character model: this project, the tfjs-layers peer " +
      "and PyTorch side by side. Table on stdout, progress on stderr. " +
      "(`deno task bench corpus --help`: the corpus loader's benchmark.)",
    BENCH_TRAIN_FLAGS,
  ).trimEnd();
}

// ---- corpus ----------------------------------------------------------------------

/** Token ids and vocabulary size of a corpus, through the library's loader (d2l normalisation). */
async function corpusIds(source: string): Promise<{ ids: Int32Array; vocabSize: number }> {
  const corpus = await loadCorpus({ source, validFraction: 0 });
  try {
    return { ids: corpus.train.read(0, corpus.train.length), vocabSize: corpus.vocab.size };
  } finally {
    corpus.close();
  }
}

/** One minibatch: `[B, T]` inputs and targets, row-major. */
interface Minibatch {
  x: Int32Array;
  y: Int32Array;
  first: boolean; // first minibatch of an epoch: start from a zero state
}

/** d2l's sequential partition, endlessly (a new random offset each epoch). */
function* sequential(ids: Int32Array, rng: Rng): Generator<Minibatch> {
  for (;;) {
    const offset = Math.floor(rng.next() * (NUM_STEPS + 1));
    const cols = Math.floor((ids.length - offset - 1) / BATCH);
    for (let i = 0; i + NUM_STEPS <= cols; i += NUM_STEPS) {
      const x = new Int32Array(BATCH * NUM_STEPS), y = new Int32Array(BATCH * NUM_STEPS);
      for (let b = 0; b < BATCH; b++) {
        for (let t = 0; t < NUM_STEPS; t++) {
          x[b * NUM_STEPS + t] = ids[offset + b * cols + i + t];
          y[b * NUM_STEPS + t] = ids[offset + b * cols + i + t + 1];
        }
      }
      yield { x, y, first: i === 0 };
    }
  }
}

// ---- models -----------------------------------------------------------------

/** A model being trained: one minibatch in, loss tensor out (kept; caller disposes). */
interface Trainer {
  step(batch: Minibatch): tf.Scalar;
  dispose(): void;
}

/**
 * The project as a user gets it: the library's `LanguageModel` (one-hot
 * inputs as rows of an identity table -> the fused sequence kernels, WGSL on
 * webgpu, C on native -> its dense output layer) and its `trainStep` (loss,
 * gradients, clipping by global norm, SGD).
 */
function projectTrainer(
  kind: CellKind,
  V: number,
  seed: number,
  lengths?: (rng: Rng) => Int32Array,
): Trainer {
  const model = new LanguageModel(
    modelConfig({ vocabSize: V, cell: kind, hiddenSize: HIDDEN, seed }),
  );
  const optimizer = makeOptimizer("sgd", LR);
  const lengthRng = new Rng(seed + 99);
  let state: State[] | undefined;
  return {
    step(batch) {
      if (batch.first) {
        disposeStates(state);
        state = undefined;
      }
      const minibatch = {
        x: batch.x,
        y: batch.y,
        batchSize: BATCH,
        numSteps: NUM_STEPS,
        lengths: lengths?.(lengthRng),
      };
      const result = modelTrainStep(model, optimizer, minibatch, state, { clip: CLIP });
      disposeStates(state);
      state = result.state;
      result.gradNorm.dispose();
      return result.loss;
    },
    dispose() {
      disposeStates(state);
      model.dispose();
      optimizer.dispose();
    },
  };
}

/** The peer: tfjs-layers recurrent layer + dense layer, batch-major. */
function layersTrainer(kind: CellKind, V: number, seed: number): Trainer {
  const H = HIDDEN;
  const ini = (s: number) =>
    tf.initializers.randomNormal({ mean: 0, stddev: INIT_STD, seed: seed + s });
  const common = {
    units: H,
    returnSequences: true,
    returnState: true,
    kernelInitializer: ini(1),
    recurrentInitializer: ini(2),
    biasInitializer: "zeros",
  } as const;
  const rnn = kind === "lstm"
    ? tf.layers.lstm({ ...common, recurrentActivation: "sigmoid", unitForgetBias: false })
    : kind === "gru"
    ? tf.layers.gru({ ...common, recurrentActivation: "sigmoid" })
    : tf.layers.simpleRNN({ ...common, activation: "tanh" });
  const dense = tf.layers.dense({ units: V, kernelInitializer: ini(3), biasInitializer: "zeros" });
  const zeros = () => Array.from({ length: kind === "lstm" ? 2 : 1 }, () => tf.zeros([BATCH, H]));
  tf.tidy(() => { // build the weights
    const [ys] = rnn.apply(tf.zeros([BATCH, NUM_STEPS, V]), {
      initialState: zeros(),
    }) as tf.Tensor[];
    dense.apply(tf.reshape(ys, [-1, H]));
  });
  const params = [...rnn.trainableWeights, ...dense.trainableWeights].map((w) =>
    w.read() as tf.Variable
  );
  const optimizer = tf.train.sgd(LR);
  let state: tf.Tensor[] | null = null;
  return {
    step(batch) {
      if (batch.first || state === null) {
        if (state) tf.dispose(state);
        state = zeros();
      }
      const s0 = state;
      let next: tf.Tensor[] = [];
      const loss = tf.tidy(() => {
        const xs = tf.oneHot(tf.tensor2d(batch.x, [BATCH, NUM_STEPS], "int32"), V).toFloat(); // [B, T, V]
        const labels = tf.oneHot(tf.tensor1d(batch.y, "int32"), V);
        return trainStep(params, optimizer, () => {
          const [ys, ...st] = rnn.apply(xs, { initialState: s0 }) as tf.Tensor[];
          next = st.map((s) => tf.keep(s));
          const logits = dense.apply(tf.reshape(ys, [-1, H])) as tf.Tensor;
          return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
        });
      });
      tf.dispose(s0);
      state = next;
      return loss;
    },
    dispose() {
      tf.dispose(params);
      if (state) tf.dispose(state);
      optimizer.dispose();
    },
  };
}

// ---- timing -------------------------------------------------------------------

/** One row of the result table. */
export interface BenchRow {
  event: "bench";
  impl: string;
  cell: CellKind;
  backend: string;
  threads: number;
  tokensPerSec: number;
  windowsTokensPerSec: number[];
  /** Tokens per second of this process's CPU time (user + system): less sensitive to other load. */
  tokensPerCpuSec?: number;
  trainPerplexity: number;
  ratioToPeer?: number;
  ratioToBestTorch?: number;
  /** Against the best PyTorch model (nn or scratch) on 1 and on 2 threads. */
  ratioToTorch1?: number;
  ratioToTorch2?: number;
}

/** This process's CPU time in ms (Linux; NaN elsewhere). */
function cpuMs(): number {
  try {
    const { user, system } = process.cpuUsage(); // microseconds; no /proc access needed
    return (user + system) / 1000;
  } catch {
    return NaN;
  }
}

/** A trainer being timed: its own minibatch stream, window results, last perplexity. */
interface Timed {
  impl: string;
  trainer: Trainer;
  batches: Generator<Minibatch>;
  windows: number[];
  cpuWindows: number[];
  perplexity: number;
}

/**
 * Times trainers side by side: warm-up for each, then the windows interleaved
 * (window 1 of each, window 2 of each, ...), so that load from elsewhere on
 * the machine falls on every implementation alike.
 */
async function timeInterleaved(timed: Timed[], opts: BenchOptions, cell: CellKind): Promise<void> {
  const next = (t: Timed) => t.batches.next().value as Minibatch;
  for (const t of timed) {
    for (let i = 0; i < opts.warmup; i++) await readLoss(t.trainer.step(next(t)));
  }
  for (let w = 0; w < opts.windows; w++) {
    for (const t of timed) {
      const losses: tf.Scalar[] = [];
      const t0 = performance.now(), c0 = cpuMs();
      for (let i = 0; i < opts.steps; i++) losses.push(t.trainer.step(next(t)));
      const sum = await readLoss(tf.tidy(() => addAll(losses)), losses); // waits for the device
      const dt = (performance.now() - t0) / 1000, dc = (cpuMs() - c0) / 1000;
      const tokens = opts.steps * BATCH * NUM_STEPS;
      t.windows.push(tokens / dt);
      t.cpuWindows.push(tokens / dc);
      t.perplexity = Math.exp(sum / opts.steps);
      progress(
        opts,
        `${t.impl} ${cell}: window ${w + 1}/${opts.windows} ${Math.round(tokens / dt)} tokens/s`,
      );
    }
  }
}

async function readLoss(loss: tf.Scalar, alsoDispose: tf.Tensor[] = []): Promise<number> {
  const [v] = await loss.data();
  tf.dispose([loss, ...alsoDispose]);
  return v;
}

// ---- machine --------------------------------------------------------------------

function machine(): { os: string; cpu: string; cores: number } {
  let cpu = "unknown";
  try {
    cpu = cpus()[0]?.model?.trim() || cpu; // node:os needs only --allow-sys
  } catch { /* no permission */ }
  return { os: `${Deno.build.os} ${Deno.osRelease()}`, cpu, cores: navigator.hardwareConcurrency };
}

function wasmThreads(info: BackendInfo): number {
  if (info.name === "native") return info.threads ?? 1;
  if (info.name !== "wasm") return 1;
  // The wasm backend's module, untyped in tfjs: each step checked before the call.
  const backend: object = tf.backend();
  const wasm = "wasm" in backend ? backend.wasm : undefined;
  const module = typeof wasm === "object" && wasm !== null && "tfjs" in wasm
    ? wasm.tfjs
    : undefined;
  const count = typeof module === "object" && module !== null && "getThreadsCount" in module
    ? module.getThreadsCount
    : undefined;
  return typeof count === "function" ? Number(count()) : 1;
}

// ---- main ---------------------------------------------------------------------------

/** Machine load, for the record: the 1-minute load average and Linux's CPU pressure. */
function load(): string {
  // Deno.loadavg needs only --allow-sys; /proc files need --allow-all, so pressure is optional.
  let text = "unknown";
  try {
    text = `loadavg ${Deno.loadavg()[0].toFixed(2)}`;
    const psi = Deno.readTextFileSync("/proc/pressure/cpu").match(/some avg10=([\d.]+)/)?.[1];
    if (psi) text += `, cpu pressure ${psi}%`;
  } catch { /* no permission or not Linux: keep what we have */ }
  return text;
}

/** Runs the benchmark; see the module docs. */
export async function benchTrain(args: string[]): Promise<void> {
  const opts = parseBenchArgs(args);
  if (opts === null) {
    console.log(usage());
    return;
  }
  if (opts.backend === "wasm") {
    tf.env().set("WASM_HAS_SIMD_SUPPORT", opts.wasmSimd);
    if (opts.wasmThreads > 0) await startThreadedWasm(opts.wasmThreads);
  }
  const info: BackendInfo = await startBackend(opts.backend, opts.threads);
  const backend = describeBackend(info) +
    (info.name === "wasm" && !opts.wasmSimd ? " (no SIMD)" : "");
  const host = machine();
  const threads = wasmThreads(info);
  const { ids, vocabSize: V } = await corpusIds(opts.corpus);
  const loadBefore = load();
  const coresBefore = probeCores();
  progress(
    opts,
    `bench: ${host.cpu} (${host.cores} cores), ${host.os}; backend ${backend}; vocab ${V}; ${loadBefore}`,
  );
  const rows: BenchRow[] = [];
  const makers: [string, (k: CellKind) => Trainer][] = [];
  if (opts.impls.has("project")) makers.push(["project", (k) => projectTrainer(k, V, 1)]);
  if (opts.impls.has("layers")) makers.push(["tfjs-layers", (k) => layersTrainer(k, V, 1)]);
  // The variable-length path: every length T (the masks' cost alone), and
  // lengths drawn from T/2..T each minibatch (padded positions still count as tokens).
  if (opts.impls.has("masked")) {
    const equal = () => new Int32Array(BATCH).fill(NUM_STEPS);
    makers.push(["project-masked", (k) => projectTrainer(k, V, 1, equal)]);
  }
  if (opts.impls.has("mixed")) {
    const mixed = (rng: Rng) =>
      Int32Array.from({ length: BATCH }, () => NUM_STEPS - rng.int(Math.ceil(NUM_STEPS / 2)));
    makers.push(["project-mixed", (k) => projectTrainer(k, V, 1, mixed)]);
  }
  for (const cell of opts.cells) {
    const timed: Timed[] = makers.map(([impl, make]) => ({
      impl,
      trainer: make(cell),
      batches: sequential(ids, new Rng(7)),
      windows: [],
      cpuWindows: [],
      perplexity: NaN,
    }));
    await timeInterleaved(timed, opts, cell);
    for (const t of timed) {
      t.trainer.dispose();
      rows.push({
        event: "bench",
        impl: t.impl,
        cell,
        backend,
        threads,
        tokensPerSec: Math.round(median(t.windows)),
        windowsTokensPerSec: t.windows.map(Math.round),
        tokensPerCpuSec: Number.isFinite(median(t.cpuWindows))
          ? Math.round(median(t.cpuWindows))
          : undefined,
        trainPerplexity: Number(t.perplexity.toFixed(3)),
      });
    }
    if (opts.profile && info.name !== "webgpu") profileProject(cell, V, backend, opts.json);
    else if (opts.profile) {
      progress(opts, "bench: --profile times synchronous backends only (wasm, cpu)");
    }
  }
  const loadAfter = load();
  const coresAfter = probeCores();
  for (const t of await runTorch(opts, opts.cells)) {
    const cell = t.model.split("-")[0] as CellKind;
    if (!opts.cells.includes(cell)) continue;
    rows.push({
      event: "bench",
      impl: `pytorch-${t.model.endsWith("-scratch") ? "scratch" : "nn"}`,
      cell,
      backend: `${t.anchor} ${t.device}`,
      threads: Number(t.device.match(/x(\d+)/)?.[1] ?? 1),
      tokensPerSec: t.tokensPerSec,
      windowsTokensPerSec: [t.tokensPerSec],
      trainPerplexity: t.trainPerplexity,
    });
  }
  for (const row of rows) {
    const peer = rows.find((r) => r.impl === "tfjs-layers" && r.cell === row.cell);
    if (peer) row.ratioToPeer = Number((row.tokensPerSec / peer.tokensPerSec).toFixed(2));
    const torch = rows.filter((r) => r.impl.startsWith("pytorch") && r.cell === row.cell);
    const ratio = (peers: BenchRow[]) =>
      peers.length
        ? Number((row.tokensPerSec / Math.max(...peers.map((r) => r.tokensPerSec))).toFixed(2))
        : undefined;
    row.ratioToBestTorch = ratio(torch);
    row.ratioToTorch1 = ratio(torch.filter((r) => r.threads === 1));
    row.ratioToTorch2 = ratio(torch.filter((r) => r.threads === 2));
  }
  const meta = {
    machine: host.cpu,
    cores: host.cores,
    os: host.os,
    deno: Deno.version.deno,
    loadBefore,
    loadAfter,
    coresBefore,
    coresAfter,
  };
  if (opts.json) {
    for (const row of rows) console.log(JSON.stringify({ ...row, ...meta }));
  } else {
    console.log(`machine: ${host.cpu}, ${host.cores} cores, ${host.os}, deno ${Deno.version.deno}`);
    console.log(`load: before ${loadBefore}; after the tfjs runs ${loadAfter}`);
    reportCores({ coresBefore, coresAfter }, (line) => console.log(line));
    console.log(table(rows));
  }
  // The threaded build's pthread workers keep the event loop alive: nothing else can stop them.
  if (opts.wasmThreads > 0) Deno.exit(0);
}

function table(rows: BenchRow[]): string {
  const head = [
    "impl",
    "cell",
    "backend",
    "threads",
    "tokens/s",
    "tokens/cpu-s",
    "x peer",
    "x best torch",
    "x torch 1T",
    "x torch 2T",
    "ppl",
  ];
  const body = rows.map((r) => [
    r.impl,
    r.cell,
    r.backend,
    String(r.threads),
    String(r.tokensPerSec),
    r.tokensPerCpuSec === undefined ? "-" : String(r.tokensPerCpuSec),
    r.ratioToPeer === undefined ? "-" : r.ratioToPeer.toFixed(2),
    r.ratioToBestTorch === undefined ? "-" : r.ratioToBestTorch.toFixed(2),
    r.ratioToTorch1 === undefined ? "-" : r.ratioToTorch1.toFixed(2),
    r.ratioToTorch2 === undefined ? "-" : r.ratioToTorch2.toFixed(2),
    r.trainPerplexity.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

if (import.meta.main) {
  try {
    await benchTrain(Deno.args);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(error.message);
      Deno.exit(2);
    }
    throw error;
  }
}
