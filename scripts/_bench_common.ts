/**
 * What the parts of `deno task bench` share: the d2l setup and small helpers.
 *
 * @module
 */
import { addAll, type BackendInfo, tf } from "../lib/tf.ts";
import { startBackend } from "./_backend.ts";
import type { Rng } from "../lib/rng.ts";
import type { CellKind } from "../lib/cells/types.ts";
import { trainStep as modelTrainStep } from "../lib/training/train.ts";
import type { TrainableModel } from "../lib/training/model.ts";

/** The parsed flags of `deno task bench [train]` (see `BENCH_TRAIN_FLAGS`). */
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
  threads: number;
  profile: boolean;
  json: boolean;
}

/**
 * Starts the backend a task bench (`classify`, `seq2seq`) asks for, where
 * `--backend auto` means wasm rather than the best one found: a bench names
 * the backend it measures, and wasm is the one every machine has.
 */
export function startBenchBackend(
  flags: { backend: string; threads: number },
): Promise<BackendInfo> {
  return startBackend(flags.backend === "auto" ? "wasm" : flags.backend, flags.threads);
}

// ---- defaults (the d2l chapter 9/10 setup) --------------------------------
export const BATCH = 32; // sequences per minibatch
export const NUM_STEPS = 35; // time steps per minibatch
export const HIDDEN = 256; // hidden units
export const LR = 1; // SGD learning rate
export const CLIP = 1; // gradient clipping: maximum global norm
export const INIT_STD = 0.01; // weights ~ N(0, 0.01²), biases 0 (d2l scratch init)

/** Clips by global norm (d2l grad_clipping) and applies SGD. */
export function clipAndApply(grads: tf.NamedTensorMap, optimizer: tf.Optimizer): void {
  tf.tidy(() => {
    const entries = Object.entries(grads);
    const norm = tf.sqrt(addAll(entries.map(([, g]) => tf.sum(tf.square(g)))));
    const scale = tf.minimum(1, tf.div(CLIP, norm));
    optimizer.applyGradients(Object.fromEntries(entries.map(([n, g]) => [n, tf.mul(g, scale)])));
  });
}

/** One training step over `params`: loss, gradients, clipping, SGD. */
export function trainStep(
  params: tf.Variable[],
  optimizer: tf.Optimizer,
  loss: () => tf.Scalar,
): tf.Scalar {
  const { value, grads } = tf.variableGrads(loss, params);
  clipAndApply(grads, optimizer);
  tf.dispose(grads);
  return value;
}

export function init(shape: number[], rng: Rng): tf.Variable {
  return tf.variable(
    tf.randomNormal(shape, 0, INIT_STD, "float32", Math.floor(rng.next() * 2 ** 31)),
  );
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Progress goes to stderr, always (stdout carries the table or the JSON rows only). */
export function progress(_opts: BenchOptions, line: string): void {
  console.error(line);
}

/**
 * Times training steps of a model (clip 1): `warmup` untimed minibatches,
 * then `steps` timed ones, each done when its loss can be read (as `fit`
 * reads it).
 *
 * @param batchAt the i-th minibatch.
 * @param itemsOf what a minibatch counts for the rate (examples, tokens...).
 * @returns the timed items and seconds.
 */
export async function timeTrainSteps<B>(
  model: TrainableModel<B>,
  optimizer: tf.Optimizer,
  batchAt: (i: number) => B,
  itemsOf: (batch: B) => number,
  counts: { warmup: number; steps: number },
): Promise<{ items: number; seconds: number }> {
  let items = 0, seconds = 0;
  for (let i = 0; i < counts.warmup + counts.steps; i++) {
    const batch = batchAt(i);
    const start = performance.now();
    const { loss, gradNorm } = modelTrainStep(model, optimizer, batch, undefined, { clip: 1 });
    await loss.data();
    tf.dispose([loss, gradNorm]);
    if (i >= counts.warmup) {
      seconds += (performance.now() - start) / 1000;
      items += itemsOf(batch);
    }
  }
  return { items, seconds };
}
