/**
 * The epoch loop: minibatches from a corpus split, {@linkcode trainStep} on
 * each, validation perplexity after each epoch, and callbacks through which a
 * script prints progress, samples and saves checkpoints.
 *
 * @module
 */
import { tf } from "./tf.ts";
import type { LanguageModel } from "./model.ts";
import { disposeStates, trainStep } from "./train.ts";
import type { Minibatch, Sampling } from "./corpus/batches.ts";
import { evaluatePerplexity, type ReadableIds } from "./evaluate.ts";
import type { State } from "./cells/types.ts";

/** The minibatch schemes, for validation and help text. */
export const SAMPLINGS: readonly Sampling[] = ["sequential", "random"];

/** Metrics of one finished epoch. */
export interface EpochMetrics {
  epoch: number;
  trainPerplexity: number;
  /** Absent when there is no validation split. */
  validPerplexity?: number;
  /** Training tokens seen this epoch. */
  tokens: number;
  /** Training time of the epoch (validation excluded), seconds. */
  seconds: number;
  tokensPerSec: number;
}

/** Progress inside an epoch. */
export interface StepProgress {
  epoch: number;
  step: number;
  steps: number;
  /** Mean training loss so far this epoch. */
  loss: number;
}

/** Options of {@linkcode fit}. */
export interface FitOptions {
  /** Epochs to run, counted from `startEpoch`. */
  epochs: number;
  /** First epoch number (1-based), for resumed runs. @default 1 */
  startEpoch?: number;
  optimizer: tf.Optimizer;
  /** Largest global gradient norm; 0 disables. @default 1 */
  clip?: number;
  /** sequential carries (detached) state across minibatches; random resets it. */
  sampling: Sampling;
  /** Makes one epoch's minibatches (e.g. `sequentialBatches` of lib/corpus), and says how many. */
  batches: (epoch: number) => Iterable<Minibatch> & { readonly numBatches: number };
  /** Validation ids, or undefined for none. */
  valid?: ReadableIds;
  batchSize: number;
  numSteps: number;
  /** Read the loss back every this many steps (a sync point). @default 10 */
  readEvery?: number;
  onStep?: (progress: StepProgress) => void;
  /** Called after each epoch; awaited (a script samples and saves here). */
  onEpoch?: (metrics: EpochMetrics) => void | Promise<void>;
  /** Asked between steps; true ends the epoch loop early (e.g. on SIGINT). */
  shouldStop?: () => boolean;
}

/** Thrown inside {@linkcode fit} when the loss stops being a finite number. */
export class NonFiniteLossError extends Error {
  /** @param epoch where it happened; @param step the step within that epoch. */
  constructor(readonly epoch: number, readonly step: number, readonly loss: number) {
    super(`Training diverged: loss is ${loss} at epoch ${epoch}, step ${step}`);
    this.name = "NonFiniteLossError";
  }
}

/**
 * Trains for a number of epochs.
 *
 * @returns the metrics of every epoch that finished.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { LanguageModel, modelConfig } from "./model.ts";
 * import { makeOptimizer } from "./train.ts";
 * const model = new LanguageModel(modelConfig({ vocabSize: 3, cell: "rnn", hiddenSize: 8 }));
 * const batch = { x: Int32Array.of(0, 1, 2, 0), y: Int32Array.of(1, 2, 0, 1), batchSize: 1, numSteps: 4 };
 * const history = await fit(model, {
 *   epochs: 30, optimizer: makeOptimizer("adam", 0.05), sampling: "random",
 *   batches: () => Object.assign([batch], { numBatches: 1 }), batchSize: 1, numSteps: 4,
 * });
 * ok(history[29].trainPerplexity < history[0].trainPerplexity);
 * model.dispose();
 * ```
 */
export async function fit(model: LanguageModel, options: FitOptions): Promise<EpochMetrics[]> {
  const { startEpoch = 1, readEvery = 10, clip = 1 } = options;
  const history: EpochMetrics[] = [];
  for (let epoch = startEpoch; epoch < startEpoch + options.epochs; epoch++) {
    const batches = options.batches(epoch);
    const count = batches.numBatches;
    let state: State[] | undefined;
    let lossSum = tf.scalar(0);
    let step = 0, tokens = 0, stopped = false;
    const started = performance.now();
    for (const batch of batches) {
      if (options.shouldStop?.()) {
        stopped = true;
        break;
      }
      const result = trainStep(model, options.optimizer, batch, state, { clip });
      disposeStates(state);
      state = options.sampling === "sequential" ? result.state : undefined;
      if (options.sampling !== "sequential") disposeStates(result.state);
      const n = batch.batchSize * batch.numSteps;
      const total = tf.tidy(() => tf.add(lossSum, tf.mul(result.loss, n)) as tf.Scalar);
      tf.dispose([lossSum, result.loss, result.gradNorm]);
      lossSum = total;
      step += 1;
      tokens += n;
      if (step % readEvery === 0 || step === count) {
        const mean = (await lossSum.data())[0] / tokens;
        if (!Number.isFinite(mean)) {
          disposeStates(state);
          lossSum.dispose();
          throw new NonFiniteLossError(epoch, step, mean);
        }
        options.onStep?.({ epoch, step, steps: count, loss: mean });
      }
    }
    disposeStates(state);
    const meanLoss = tokens > 0 ? (await lossSum.data())[0] / tokens : NaN;
    lossSum.dispose();
    if (stopped) break;
    const seconds = (performance.now() - started) / 1000;
    const metrics: EpochMetrics = {
      epoch,
      trainPerplexity: Math.exp(meanLoss),
      tokens,
      seconds,
      tokensPerSec: tokens / seconds,
    };
    if (options.valid && options.valid.length >= 2) {
      const { perplexity } = await evaluatePerplexity(model, options.valid, {
        batchSize: options.batchSize,
        numSteps: options.numSteps,
      });
      metrics.validPerplexity = perplexity;
    }
    history.push(metrics);
    await options.onEpoch?.(metrics);
  }
  return history;
}
