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
 * - `pytorch-*`: the reference trainer in ../shared/tools/torch_anchor.py
 *   (PyTorch on the CPU), step-by-step cells and nn.LSTM/GRU/RNN.
 *
 * Each figure is the median of several timed windows after warm-up steps.
 * Table on stdout, progress on stderr; `--json` prints one JSON object per row.
 *
 * Usage: deno run -A scripts/bench_train.ts [--cells lstm] [--backend wasm] [--json]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpus } from "node:os";
import process from "node:process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type BackendInfo, describeBackend, tf, tfWasm, useBackend } from "../lib/tf.ts";
import { UsageError } from "../lib/errors.ts";
import { Rng } from "../lib/rng.ts";
import { CELL_KINDS, type CellKind, GATE_COUNT } from "../lib/cells/types.ts";
import { fusedSequence } from "../lib/kernels/fused_sequence.ts";
import { linear } from "../lib/kernels/linear.ts";
import { LanguageModel, modelConfig } from "../lib/model.ts";
import { disposeStates, makeOptimizer, trainStep as modelTrainStep } from "../lib/train.ts";
import type { State } from "../lib/cells/types.ts";
import { loadCorpus } from "../lib/corpus/load.ts";

// ---- defaults (the d2l chapter 9/10 setup) --------------------------------
const BATCH = 32; // sequences per minibatch
const NUM_STEPS = 35; // time steps per minibatch
const HIDDEN = 256; // hidden units
const LR = 1; // SGD learning rate
const CLIP = 1; // gradient clipping: maximum global norm
const INIT_STD = 0.01; // weights ~ N(0, 0.01²), biases 0 (d2l scratch init)

const FLAGS = {
  cells: { type: "string", default: "rnn,gru,lstm", help: "cell kinds, comma-separated" },
  backend: { type: "string", default: "wasm", help: "tfjs backend: wasm, cpu, webgpu" },
  steps: { type: "string", default: "10", help: "timed minibatches per window" },
  windows: { type: "string", default: "3", help: "timed windows (the figure is their median)" },
  warmup: { type: "string", default: "3", help: "untimed minibatches first" },
  impls: { type: "string", default: "project,layers,torch", help: "which to run" },
  corpus: { type: "string", default: "", help: "text file (default data/timemachine.txt)" },
  torch: { type: "string", default: "", help: "path to torch_anchor.py, or 'none'" },
  "torch-epochs": { type: "string", default: "1", help: "timed PyTorch epochs (plus one warm-up)" },
  "torch-threads": { type: "string", default: "1", help: "PyTorch threads, comma-separated" },
  "torch-chars": {
    type: "string",
    default: "40000",
    help: "corpus characters PyTorch trains on (0: all; keeps each model near a minute)",
  },
  "wasm-simd": { type: "string", default: "on", help: "wasm SIMD build: on or off (experiment)" },
  "wasm-threads": {
    type: "string",
    default: "0",
    help: "start tfjs-wasm's threaded build with N threads (experiment; 0: tfjs default)",
  },
  profile: { type: "boolean", default: false, help: "time the parts of a project step" },
  json: { type: "boolean", default: false, help: "one JSON object per row on stdout" },
  help: { type: "boolean", default: false, help: "this text" },
} as const;

/** Parsed, validated options. */
export interface BenchOptions {
  cells: CellKind[];
  backend: string;
  steps: number;
  windows: number;
  warmup: number;
  impls: Set<string>;
  corpus: string;
  torch: string | null;
  torchEpochs: number;
  torchThreads: number[];
  torchChars: number;
  wasmSimd: boolean;
  wasmThreads: number;
  profile: boolean;
  json: boolean;
}

const REPO = fileURLToPath(new URL("..", import.meta.url));

function positive(flag: string, value: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`Invalid --${flag} "${value}": expected an integer >= ${min}`);
  }
  return n;
}

function onOff(flag: string, value: string): boolean {
  if (value !== "on" && value !== "off") {
    throw new UsageError(`Invalid --${flag} "${value}": expected on or off`);
  }
  return value === "on";
}

/** Parses argv into options; throws {@linkcode UsageError} on bad input. */
export function parseBenchArgs(args: string[]): BenchOptions | null {
  let values;
  try {
    ({ values } = parseArgs({ args, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError(`Invalid arguments: ${(error as Error).message}`);
  }
  if (values.help) return null;
  const cells = values.cells.split(",").map((c) => c.trim()).filter(Boolean);
  for (const c of cells) {
    if (!(CELL_KINDS as readonly string[]).includes(c)) {
      throw new UsageError(`Invalid --cells "${c}": expected some of ${CELL_KINDS.join(", ")}`);
    }
  }
  if (cells.length === 0) {
    throw new UsageError(`Invalid --cells "": expected some of rnn, gru, lstm`);
  }
  const impls = new Set(values.impls.split(",").map((s) => s.trim()).filter(Boolean));
  for (const i of impls) {
    if (!["project", "layers", "torch"].includes(i)) {
      throw new UsageError(`Invalid --impls "${i}": expected some of project, layers, torch`);
    }
  }
  const corpus = values.corpus || `${REPO}data/timemachine.txt`;
  if (!existsSync(corpus)) throw new UsageError(`Cannot read corpus "${corpus}": no such file`);
  let torch: string | null = values.torch || `${REPO}../shared/tools/torch_anchor.py`;
  if (values.torch === "none" || !impls.has("torch")) torch = null;
  return {
    cells: cells as CellKind[],
    backend: values.backend,
    steps: positive("steps", values.steps),
    windows: positive("windows", values.windows),
    warmup: positive("warmup", values.warmup, 0),
    impls,
    corpus,
    torch,
    torchEpochs: positive("torch-epochs", values["torch-epochs"]),
    torchThreads: values["torch-threads"].split(",").map((t) => positive("torch-threads", t)),
    torchChars: positive("torch-chars", values["torch-chars"], 0),
    wasmSimd: onOff("wasm-simd", values["wasm-simd"]),
    wasmThreads: positive("wasm-threads", values["wasm-threads"], 0),
    profile: values.profile,
    json: values.json,
  };
}

function usage(): string {
  const lines = Object.entries(FLAGS).map(([name, f]) =>
    `  --${name.padEnd(14)} ${f.help}${
      f.type === "string" && f.default ? ` (default ${f.default})` : ""
    }`
  );
  return `Usage: deno run -A scripts/bench_train.ts [flags]\n${lines.join("\n")}`;
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

/** Clips by global norm (d2l grad_clipping) and applies SGD. */
function clipAndApply(grads: tf.NamedTensorMap, optimizer: tf.Optimizer): void {
  tf.tidy(() => {
    const entries = Object.entries(grads);
    const norm = tf.sqrt(tf.addN(entries.map(([, g]) => tf.sum(tf.square(g)))));
    const scale = tf.minimum(1, tf.div(CLIP, norm));
    optimizer.applyGradients(Object.fromEntries(entries.map(([n, g]) => [n, tf.mul(g, scale)])));
  });
}

/** One training step over `params`: loss, gradients, clipping, SGD. */
function trainStep(
  params: tf.Variable[],
  optimizer: tf.Optimizer,
  loss: () => tf.Scalar,
): tf.Scalar {
  const { value, grads } = tf.variableGrads(loss, params);
  clipAndApply(grads, optimizer);
  tf.dispose(grads);
  return value;
}

function init(shape: number[], rng: Rng): tf.Variable {
  return tf.variable(
    tf.randomNormal(shape, 0, INIT_STD, "float32", Math.floor(rng.next() * 2 ** 31)),
  );
}

/**
 * The project as a user gets it: the library's `LanguageModel` (one-hot ->
 * `runSequence`, i.e. the fused kernels, WGSL on webgpu -> `linear`) and its
 * `trainStep` (loss, gradients, clipping by global norm, SGD).
 */
function projectTrainer(kind: CellKind, V: number, seed: number): Trainer {
  const model = new LanguageModel(
    modelConfig({ vocabSize: V, cell: kind, hiddenSize: HIDDEN, seed }),
  );
  const optimizer = makeOptimizer("sgd", LR);
  let state: State[] | undefined;
  return {
    step(batch) {
      if (batch.first) {
        disposeStates(state);
        state = undefined;
      }
      const minibatch = { x: batch.x, y: batch.y, batchSize: BATCH, numSteps: NUM_STEPS };
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
      const sum = await readLoss(tf.tidy(() => tf.addN(losses)), losses); // waits for the device
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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Progress goes to stderr, always (stdout carries the table or the JSON rows only). */
function progress(_opts: BenchOptions, line: string): void {
  console.error(line);
}

// ---- PyTorch --------------------------------------------------------------------

async function findTorchPython(): Promise<string | null> {
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      const { success } = await new Deno.Command(python, {
        args: ["-c", "import torch"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (success) return python;
    } catch { /* not installed */ }
  }
  return null;
}

interface TorchRow {
  model: string;
  tokensPerSec: number;
  trainPerplexity: number;
  anchor: string;
  device: string;
}

async function runTorch(opts: BenchOptions, cells: CellKind[]): Promise<TorchRow[]> {
  if (!opts.torch) return [];
  if (!existsSync(opts.torch)) {
    console.error(`bench: skipping PyTorch: no anchor script at "${opts.torch}"`);
    return [];
  }
  const python = await findTorchPython();
  if (!python) {
    console.error(
      "bench: skipping PyTorch: no python3 with torch (tried python3, /usr/bin/python3)",
    );
    return [];
  }
  const models = cells.flatMap((c) => [`${c}-scratch`, c]).join(",");
  let corpus = opts.corpus;
  if (opts.torchChars > 0) { // the first characters only: (1 + epochs) epochs in about a minute per model
    corpus = await Deno.makeTempFile({ prefix: "bench-corpus-", suffix: ".txt" });
    await Deno.writeTextFile(
      corpus,
      (await Deno.readTextFile(opts.corpus)).slice(0, opts.torchChars),
    );
  }
  const rows: TorchRow[] = [];
  for (const threads of opts.torchThreads) {
    progress(
      opts,
      `pytorch: ${models} on ${threads} thread(s), ${opts.torchEpochs} timed epoch(s) each...`,
    );
    const out = await new Deno.Command(python, {
      args: [opts.torch, corpus, "cpu", String(opts.torchEpochs), models, String(threads)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      console.error(
        `bench: PyTorch failed: ${new TextDecoder().decode(out.stderr).trim().split("\n").pop()}`,
      );
      continue;
    }
    for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
      if (line.trim().startsWith("{")) rows.push(JSON.parse(line));
    }
  }
  if (corpus !== opts.corpus) await Deno.remove(corpus);
  return rows;
}

// ---- machine --------------------------------------------------------------------

function machine(): { os: string; cpu: string; cores: number } {
  let cpu = "unknown";
  try {
    cpu = cpus()[0]?.model?.trim() || cpu; // node:os needs only --allow-sys
  } catch { /* no permission */ }
  return { os: `${Deno.build.os} ${Deno.osRelease()}`, cpu, cores: navigator.hardwareConcurrency };
}

function wasmThreads(backend: string): number {
  if (backend !== "wasm") return 1;
  const b = tf.backend() as unknown as { wasm?: { tfjs?: { getThreadsCount?: () => number } } };
  return b.wasm?.tfjs?.getThreadsCount?.() ?? 1;
}

// ---- profile of one project step ------------------------------------------------------

/** Median wall time of `f` in ms (each run in its own tidy; wasm and cpu are synchronous). */
function timeIt(f: () => void, reps = 7): number {
  tf.tidy(f);
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    tf.tidy(f);
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

/** `[a shape, b shape, count]` of every matmul in one training step, by part. */
function stepMatmuls(kind: CellKind, V: number): Record<string, [number[], number[], number][]> {
  const T = NUM_STEPS, B = BATCH, H = HIDDEN, G = GATE_COUNT[kind], N = T * B;
  const A = H + V + 1; // [Hprev, X, 1]: the weight-gradient operand
  const common = {
    inputProjection: [[[N, V], [V, G * H], 1]],
    inputGrad: [[[N, G * H], [G * H, V], 1]],
    outputLayer: [[[N, H], [H, V], 1], [[N, V], [V, H], 1], [[H, N], [N, V], 1]],
  } as Record<string, [number[], number[], number][]>;
  if (kind === "gru") {
    return {
      recurrentForward: [[[B, H], [H, 2 * H], T], [[B, H], [H, H], T]],
      recurrentBackward: [[[B, H], [H, H], T], [[B, 2 * H], [2 * H, H], T]],
      weightGrads: [[[2 * H, N], [N, A], 1], [[H, N], [N, A], 1]],
      ...common,
    };
  }
  return {
    recurrentForward: [[[B, H], [H, G * H], T]],
    recurrentBackward: [[[B, G * H], [G * H, H], T]],
    weightGrads: [[[G * H, N], [N, A], 1]],
    ...common,
  };
}

/**
 * Times the parts of one project training step on random data of the d2l
 * shapes: sequence forward, output layer (forward + backward), clipping + SGD,
 * the weight-gradient matmul, and the bare matmuls of a step (the matmul-bound
 * limit). The sequence backward is the full step minus the other parts.
 * Synchronous backends only (wasm, cpu): webgpu timings would need a read-back.
 */
function profileProject(kind: CellKind, V: number, backend: string, json: boolean): void {
  const T = NUM_STEPS, B = BATCH, H = HIDDEN, G = GATE_COUNT[kind], N = T * B;
  const rng = new Rng(3);
  const Wx = init([V, G * H], rng), Wh = init([H, G * H], rng), b = tf.variable(tf.zeros([G * H]));
  const Wq = init([H, V], rng), bq = tf.variable(tf.zeros([V]));
  const params = [Wx, Wh, b, Wq, bq];
  const optimizer = tf.train.sgd(0); // lr 0: the weights stay put between repetitions
  const spec = { kind, inputSize: V, hiddenSize: H };
  const idx = tf.tensor2d(
    Int32Array.from({ length: N }, () => Math.floor(rng.next() * V)),
    [T, B],
    "int32",
  );
  const xs = tf.oneHot(idx, V).toFloat() as tf.Tensor3D;
  const labels = tf.oneHot(tf.reshape(idx, [-1]), V);
  const h = tf.zeros([B, H]) as tf.Tensor2D, c = tf.zeros([B, H]) as tf.Tensor2D;
  const w = { Wx, Wh, b } as never;
  const loss = () => {
    const r = fusedSequence(spec, w, xs, { h, c });
    const logits = linear(tf.reshape(r.outputs, [N, H]), Wq as tf.Tensor2D, bq as tf.Tensor1D);
    return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
  };
  const outs = tf.randomNormal([N, H]) as tf.Tensor2D;
  const grads = tf.variableGrads(loss, params).grads;
  const parts: Record<string, number> = {
    step: timeIt(() => trainStep(params, optimizer, loss).dispose()),
    sequenceForward: timeIt(() => {
      fusedSequence(spec, w, xs, { h, c });
    }),
    outputLayer: timeIt(() => {
      tf.grads((o: tf.Tensor, q: tf.Tensor, qb: tf.Tensor) =>
        tf.losses.softmaxCrossEntropy(
          labels,
          linear(o as tf.Tensor2D, q as tf.Tensor2D, qb as tf.Tensor1D),
        ) as tf.Scalar
      )([outs, Wq, bq]);
    }),
    clipAndSgd: timeIt(() => clipAndApply(grads, optimizer)),
  };
  // The matmuls of one step, bare: same shapes and counts as the kernels in lib/kernels, each
  // right operand new once per step (as the weights are after an update: tfjs-wasm packs it).
  const mm: Record<string, number> = {};
  for (const [part, list] of Object.entries(stepMatmuls(kind, V))) {
    const operands = list.map(([a, b, count]) =>
      [tf.randomNormal(a), tf.randomNormal(b), count] as const
    );
    mm[part] = timeIt(() => {
      for (const [x, w, count] of operands) {
        const fresh = tf.add(w, 0); // a new tensor: packed again, as after a weight update
        for (let t = 0; t < count; t++) tf.matMul(x, fresh);
      }
    });
    tf.dispose(operands.flatMap(([x, w]) => [x, w]));
  }
  parts.weightGradMatmul = mm.weightGrads;
  const matmulLimit = Object.values(mm).reduce((a, x) => a + x, 0);
  parts.sequenceBackward = parts.step - parts.sequenceForward - parts.outputLayer -
    parts.clipAndSgd;
  const row = {
    event: "profile",
    impl: "project",
    cell: kind,
    backend,
    ms: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, Number(v.toFixed(2))])),
    matmulMs: Object.fromEntries(Object.entries(mm).map(([k, v]) => [k, Number(v.toFixed(2))])),
    matmulLimitMs: Number(matmulLimit.toFixed(2)),
    fractionOfMatmulLimit: Number((matmulLimit / parts.step).toFixed(3)),
    tokensPerSecAtLimit: Math.round(N / matmulLimit * 1000),
  };
  if (json) console.log(JSON.stringify(row));
  else {
    console.error(
      `profile ${kind}: step ${parts.step.toFixed(1)} ms = sequence forward ${
        parts.sequenceForward.toFixed(1)
      }` +
        ` + sequence backward ${parts.sequenceBackward.toFixed(1)} (weight-gradient matmul ${
          parts.weightGradMatmul.toFixed(1)
        })` +
        ` + output layer ${parts.outputLayer.toFixed(1)} + clip/SGD ${parts.clipAndSgd.toFixed(1)}`,
    );
    console.error(
      `profile ${kind}: bare matmuls ${matmulLimit.toFixed(1)} ms (` +
        Object.entries(mm).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ") +
        `): ${
          (100 * matmulLimit / parts.step).toFixed(0)
        }% of the step; limit ${row.tokensPerSecAtLimit} tokens/s`,
    );
  }
  tf.dispose([...params, idx, xs, labels, h, c, outs]);
  tf.dispose(grads);
  optimizer.dispose();
}

// ---- experiment: tfjs-wasm's threaded build under Deno ------------------------------------

/**
 * Starts tfjs-backend-wasm's threaded SIMD build with `threads` threads. An
 * experiment (`--wasm-threads`), not something the library does: tfjs
 * disables threads when IS_NODE (which Deno's Node compatibility sets), and
 * forcing them on meets three incompatibilities, worked around here while the
 * backend starts:
 * 1. the pthread worker script is handed to node:worker_threads as a `blob:`
 *    URL (ERR_WORKER_PATH): Blob and URL.createObjectURL are wrapped so the
 *    script is written to a temporary `.cjs` file instead, with the names the
 *    bundled factory expects from its module scope (require$$0.., tslib helpers);
 * 2. the worker assigns `location` on Deno's worker global (getter only):
 *    those properties are defined instead;
 * 3. tfjs caps threads at emscripten_num_logical_cores()/2 = os.cpus()/2,
 *    i.e. one on a 2-core machine: os.cpus() reports twice the cores meanwhile.
 */
async function startThreadedWasm(threads: number): Promise<void> {
  const wasmBackend = tfWasm;
  const os = (await import("node:os")).default as { cpus: () => unknown[] };
  const dir = await Deno.makeTempDir({ prefix: "tfjs-wasm-threads-" });
  const texts = new WeakMap<object, string>();
  let mainScript = "";
  const OrigBlob = globalThis.Blob;
  class RecordingBlob extends OrigBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (parts?.every((p) => typeof p === "string")) {
        const text = (parts as string[]).join("");
        texts.set(this, text);
        if (text.startsWith("var WasmBackendModuleThreadedSimd")) mainScript = text;
      }
    }
  }
  const prelude = [
    'var require$$0 = require("fs"), require$$1 = require("path"), require$$3 = require("perf_hooks"), require$$4 = require("os");',
    "var commonjsGlobal = globalThis, _scriptDir = __filename;",
    "function __values(o){var s=typeof Symbol==='function'&&Symbol.iterator,m=s&&o[s],i=0;if(m)return m.call(o);if(o&&typeof o.length==='number')return{next:function(){if(o&&i>=o.length)o=void 0;return{value:o&&o[i++],done:!o}}};throw new TypeError('not iterable')}",
    "function __read(o,n){var m=typeof Symbol==='function'&&o[Symbol.iterator];if(!m)return o;var i=m.call(o),r,ar=[],e;try{while((n===void 0||n-->0)&&!(r=i.next()).done)ar.push(r.value)}catch(error){e={error:error}}finally{try{if(r&&!r.done&&(m=i['return']))m.call(i)}finally{if(e)throw e.error}}return ar}",
    "function __spreadArray(to,from,pack){if(pack||arguments.length===2)for(var i=0,l=from.length,ar;i<l;i++){if(ar||!(i in from)){if(!ar)ar=Array.prototype.slice.call(from,0,i);ar[i]=from[i]}}return to.concat(ar||Array.prototype.slice.call(from))}",
    "function __assignAll(t,src){for(var k of Object.keys(src)){try{Object.defineProperty(t,k,{value:src[k],writable:true,configurable:true})}catch(e){}}}",
    "Object.assign(globalThis,{require$$0,require$$1,require$$3,require$$4,commonjsGlobal,_scriptDir,__values,__read,__spreadArray});",
  ].join("\n");
  const origCreate = URL.createObjectURL, origCpus = os.cpus;
  URL.createObjectURL = (obj: Blob) => {
    const text = texts.get(obj);
    if (text === undefined) return origCreate(obj);
    const main = `${dir}/main.cjs`, worker = `${dir}/worker.cjs`;
    Deno.writeTextFileSync(main, mainScript);
    const patched = text
      .replace(
        'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}',
        `if(true){importScripts(${JSON.stringify(main)})}`,
      )
      .replace("Object.assign(global,{", "__assignAll(global,{");
    Deno.writeTextFileSync(worker, prelude + "\n" + patched);
    return worker;
  };
  (globalThis as { Blob: typeof Blob }).Blob = RecordingBlob;
  os.cpus = () => [...origCpus(), ...origCpus()];
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  wasmBackend.setThreadsCount(threads);
  try {
    if (!(await tf.setBackend("wasm"))) {
      throw new UsageError("Cannot start the threaded wasm build");
    }
    await tf.ready();
  } finally {
    globalThis.Blob = OrigBlob;
    URL.createObjectURL = origCreate;
    os.cpus = origCpus;
  }
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
  const info: BackendInfo = await useBackend(opts.backend);
  const backend = describeBackend(info) +
    (info.name === "wasm" && !opts.wasmSimd ? " (no SIMD)" : "");
  const host = machine();
  const threads = wasmThreads(info.name);
  const { ids, vocabSize: V } = await corpusIds(opts.corpus);
  const loadBefore = load();
  progress(
    opts,
    `bench: ${host.cpu} (${host.cores} cores), ${host.os}; backend ${backend}; vocab ${V}; ${loadBefore}`,
  );
  const rows: BenchRow[] = [];
  const makers: [string, (k: CellKind) => Trainer][] = [];
  if (opts.impls.has("project")) makers.push(["project", (k) => projectTrainer(k, V, 1)]);
  if (opts.impls.has("layers")) makers.push(["tfjs-layers", (k) => layersTrainer(k, V, 1)]);
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
    if (torch.length) {
      const best = Math.max(...torch.map((r) => r.tokensPerSec));
      row.ratioToBestTorch = Number((row.tokensPerSec / best).toFixed(2));
    }
  }
  const meta = {
    machine: host.cpu,
    cores: host.cores,
    os: host.os,
    deno: Deno.version.deno,
    loadBefore,
    loadAfter,
  };
  if (opts.json) {
    for (const row of rows) console.log(JSON.stringify({ ...row, ...meta }));
  } else {
    console.log(`machine: ${host.cpu}, ${host.cores} cores, ${host.os}, deno ${Deno.version.deno}`);
    console.log(`load: before ${loadBefore}; after the tfjs runs ${loadAfter}`);
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
