/**
 * The epoch loop: minibatches from a corpus split, {@linkcode trainStep} on
 * each, validation perplexity after each epoch, and callbacks through which a
 * script prints progress, samples and saves checkpoints.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { LanguageModel } from "../lm/model.ts";
import { applyGradients, computeGradients, globalNorm } from "./train.ts";
import { disposeStates } from "../cells/state.ts";
import type { Rng } from "../rng.ts";
import type { Minibatch, Sampling } from "../corpus/batches.ts";
import { evaluatePerplexity, type ReadableIds } from "../lm/evaluate.ts";
import type { State } from "../cells/types.ts";

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

/**
 * Where a run stands: enough to continue it bit for bit. Saved with every
 * checkpoint (the carried state as tensors, the rest as JSON).
 */
export interface FitPosition {
  /** The epoch in progress, 1-based. */
  epoch: number;
  /** Minibatches of that epoch already done. */
  step: number;
  /** The random stream's state before this epoch's minibatches were drawn. */
  epochRngState: number;
  /** Sum over the done minibatches of loss x tokens (float64). */
  lossSum: number;
  /** Tokens of the done minibatches. */
  tokens: number;
  /** Training time spent in this epoch so far, seconds. */
  seconds: number;
  /** The state carried into the next minibatch (sequential sampling). */
  state?: State[];
}

/** What to do when a step's loss or gradient norm is NaN or infinite. */
export type NonFinitePolicy = "stop" | "skip";

/** Options of {@linkcode fit}. */
export interface FitOptions {
  /** The last epoch to run (1-based, inclusive). */
  epochs: number;
  /** Where to start: a saved position, or the beginning of epoch 1. */
  start?: FitPosition;
  optimizer: tf.Optimizer;
  /** Largest global gradient norm; 0 disables. @default 1 */
  clip?: number;
  /** sequential carries (detached) state across minibatches; random resets it. */
  sampling: Sampling;
  /** Draws each epoch's minibatches (offset, order); its state is part of the position. */
  rng: Rng;
  /** Makes one epoch's minibatches from `rng` (e.g. `sequentialBatches` of lib/corpus). */
  batches: (epoch: number, rng: Rng) => Iterable<Minibatch> & { readonly numBatches: number };
  /** Validation ids, or undefined for none. */
  valid?: ReadableIds;
  batchSize: number;
  numSteps: number;
  /** stop: throw {@linkcode NonFiniteLossError}; skip: drop the step and halve the learning rate. @default "stop" */
  onNonFinite?: NonFinitePolicy;
  onStep?: (progress: StepProgress) => void;
  /** Called when a non-finite step was skipped, with the new learning rate. */
  onSkip?: (progress: StepProgress, learningRate: number) => void;
  /** Called after each epoch with where the next one starts; awaited (a script samples and saves here). */
  onEpoch?: (metrics: EpochMetrics, next: FitPosition) => void | Promise<void>;
  /** Asked between steps; true ends training early (e.g. on SIGINT). */
  shouldStop?: () => boolean;
}

/** What {@linkcode fit} returns. */
export interface FitResult {
  /** The metrics of every epoch that finished. */
  history: EpochMetrics[];
  /** Where training stopped when `shouldStop` ended it; its state tensors are the caller's. */
  stoppedAt?: FitPosition;
}

/** Thrown inside {@linkcode fit} when the loss or gradient stops being a finite number. */
export class NonFiniteLossError extends Error {
  /**
   * @param epoch where it happened (1-based).
   * @param step the minibatch within that epoch (1-based).
   * @param loss the loss there; @param gradNorm the gradient's global norm there.
   */
  constructor(
    readonly epoch: number,
    readonly step: number,
    readonly loss: number,
    readonly gradNorm: number,
  ) {
    super(
      `Training diverged at epoch ${epoch}, step ${step}: loss ${loss}, gradient norm ${gradNorm}`,
    );
    this.name = "NonFiniteLossError";
  }
}

/** A seed for one step's dropout masks, fixed by its place in the run. */
function stepSeed(epoch: number, step: number): number {
  return (Math.imul(epoch, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca77)) >>> 0;
}

/** Sets an optimizer's learning rate (SGD, momentum and Adam keep it in one field). */
function setLearningRate(optimizer: tf.Optimizer, rate: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = rate;
}

/**
 * Trains from a position (or the start) through epoch `epochs`.
 *
 * Each step reads its loss and gradient norm back before the update, so a
 * NaN or Inf never reaches the weights and the report names the exact step.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { LanguageModel, modelConfig } from "../lm/model.ts";
 * import { makeOptimizer } from "./train.ts";
 * import { Rng } from "../rng.ts";
 * const model = new LanguageModel(modelConfig({ vocabSize: 3, cell: "rnn", hiddenSize: 8 }));
 * const batch = { x: Int32Array.of(0, 1, 2, 0), y: Int32Array.of(1, 2, 0, 1), batchSize: 1, numSteps: 4 };
 * const { history } = await fit(model, {
 *   epochs: 30, optimizer: makeOptimizer("adam", 0.05), sampling: "random", rng: new Rng(0),
 *   batches: () => Object.assign([batch], { numBatches: 1 }), batchSize: 1, numSteps: 4,
 * });
 * ok(history[29].trainPerplexity < history[0].trainPerplexity);
 * model.dispose();
 * ```
 */
export async function fit(model: LanguageModel, options: FitOptions): Promise<FitResult> {
  const { rng } = options;
  const history: EpochMetrics[] = [];
  let position: FitPosition = options.start ??
    { epoch: 1, step: 0, epochRngState: rng.state, lossSum: 0, tokens: 0, seconds: 0 };
  while (position.epoch <= options.epochs) {
    const { epoch } = position;
    rng.state = position.epochRngState;
    const batches = options.batches(epoch, rng);
    const count = batches.numBatches;
    let { step, lossSum, tokens, state } = position;
    const clock = performance.now() - position.seconds * 1000;
    let index = 0, lastYield = performance.now();
    for (const batch of batches) {
      if (index++ < step) continue; // done before the run was resumed
      // Signal handlers run only when the event loop gets a turn, and on
      // cpu/wasm nothing in a step gives it one: yield every 50 ms.
      if (performance.now() - lastYield > 50) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        lastYield = performance.now();
      }
      if (options.shouldStop?.()) {
        const seconds = (performance.now() - clock) / 1000;
        const stoppedAt = { ...position, step, lossSum, tokens, seconds, state };
        return { history, stoppedAt };
      }
      const done = await guardedStep(model, options, batch, state, { epoch, step, steps: count });
      step += 1;
      if (done === undefined) continue; // a skipped non-finite step
      disposeStates(state);
      state = options.sampling === "sequential" ? done.state : undefined;
      if (options.sampling !== "sequential") disposeStates(done.state);
      const n = batch.batchSize * batch.numSteps;
      lossSum += done.loss * n;
      tokens += n;
      options.onStep?.({ epoch, step, steps: count, loss: lossSum / tokens });
    }
    disposeStates(state);
    const seconds = (performance.now() - clock) / 1000;
    const metrics: EpochMetrics = {
      epoch,
      trainPerplexity: Math.exp(lossSum / tokens),
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
    position = {
      epoch: epoch + 1,
      step: 0,
      epochRngState: rng.state,
      lossSum: 0,
      tokens: 0,
      seconds: 0,
    };
    await options.onEpoch?.(metrics, position);
  }
  return { history };
}

/**
 * One minibatch: gradients, then the NaN guard (loss and gradient norm read
 * back before anything changes), then clipping and the update.
 *
 * @param at the step about to run (`step` counts the ones done).
 * @returns the loss and the next state (the caller's), or undefined when the
 *   step was non-finite and skipped.
 * @throws {NonFiniteLossError} when non-finite and the policy is "stop".
 */
async function guardedStep(
  model: LanguageModel,
  options: FitOptions,
  batch: Minibatch,
  state: State[] | undefined,
  at: { epoch: number; step: number; steps: number },
): Promise<{ loss: number; state: State[] } | undefined> {
  const result = computeGradients(model, batch, state, { seed: stepSeed(at.epoch, at.step) });
  const norm = globalNorm(result.grads);
  const loss = (await result.loss.data())[0];
  const gradNorm = (await norm.data())[0];
  result.loss.dispose();
  if (Number.isFinite(loss) && Number.isFinite(gradNorm)) {
    tf.dispose(applyGradients(options.optimizer, result.grads, options.clip ?? 1, norm));
    return { loss, state: result.state };
  }
  tf.dispose([norm, ...Object.values(result.grads)]);
  disposeStates(result.state);
  if ((options.onNonFinite ?? "stop") === "stop") {
    disposeStates(state);
    throw new NonFiniteLossError(at.epoch, at.step + 1, loss, gradNorm);
  }
  const rate = (options.optimizer as unknown as { learningRate: number }).learningRate / 2;
  setLearningRate(options.optimizer, rate);
  options.onSkip?.({ ...at, step: at.step + 1, loss }, rate);
  return undefined;
}
