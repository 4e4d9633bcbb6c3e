/**
 * The epoch loop for any {@linkcode TrainableModel}: minibatches from a
 * caller's source, a guarded step on each, a caller's validation after each
 * epoch, the best epoch and early stopping, and callbacks through which a
 * script prints progress and saves checkpoints (lib/ prints nothing).
 *
 * @module
 */
import type { Optimizer } from "../ops/tensors.ts";
import { tf } from "../tf.ts";
import { applyGradients, computeGradients, globalNorm } from "./train.ts";
import { disposeStates } from "../cells/state.ts";
import type { Rng } from "../rng.ts";
import type { State } from "../cells/types.ts";
import type { TrainableModel } from "./model.ts";
import { UsageError } from "../errors.ts";
import { learningRateOf, setLearningRate } from "./_optimizer_fields.ts";
import { decayWeights, isScheduled, type LrSchedule, scheduledRate } from "./schedule.ts";

/** Metrics of one finished epoch, the same for every kind of model. */
export interface EpochMetrics {
  /** The epoch, from 1. */
  epoch: number;
  /** Mean training loss over the epoch's items (each batch weighed by its count). */
  trainLoss: number;
  /** Training items (tokens, examples...) seen this epoch. */
  items: number;
  /** Training time of the epoch (validation excluded), seconds. */
  seconds: number;
  /** Training items per second this epoch. */
  itemsPerSec: number;
  /** What `validate` returned after the epoch; `{}` without one. */
  validation: Record<string, number>;
}

/** Progress inside an epoch. */
export interface StepProgress {
  /** The epoch, from 1. */
  epoch: number;
  /** Steps done this epoch. */
  step: number;
  /** Steps in the epoch. */
  steps: number;
  /** Mean training loss so far this epoch. */
  loss: number;
}

/** The best value of the monitored validation metric so far, and its epoch. */
export interface BestSoFar {
  /** The epoch that reached it. */
  epoch: number;
  /** The metric's value. */
  value: number;
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
  /** Sum over the done minibatches of loss x count (float64). */
  lossSum: number;
  /** Items of the done minibatches. */
  items: number;
  /** Training time spent in this epoch so far, seconds. */
  seconds: number;
  /** The state carried into the next minibatch (when carrying). */
  state?: State[];
  /** The monitored metric's best so far (for the best checkpoint and patience). */
  best?: BestSoFar;
}

/** What to do when a step's loss or gradient norm is NaN or infinite. */
export type NonFinitePolicy = "stop" | "skip";

/**
 * Every {@linkcode NonFinitePolicy}, in the order a flag lists them.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(NON_FINITE_POLICIES, ["stop", "skip"]);
 * ```
 */
export const NON_FINITE_POLICIES: readonly NonFinitePolicy[] = ["stop", "skip"];

/** Which validation metric decides the best epoch. */
export interface Monitor {
  /** A key of `validate`'s record, e.g. `validPerplexity` or `validAccuracy`. */
  metric: string;
  /** Whether lower (a loss, a perplexity) or higher (an accuracy) is better. */
  mode: "min" | "max";
}

/** What `onEpoch` learns besides the metrics. */
export interface EpochInfo {
  /** This epoch set a new best of the monitored metric. */
  improved: boolean;
  /** The best so far (this epoch when `improved`); absent without validation. */
  best?: BestSoFar;
  /** Training stops after this epoch: patience ran out. */
  earlyStop: boolean;
}

/** Options of {@linkcode fit}. */
export interface FitOptions<B> {
  /** The last epoch to run (1-based, inclusive). */
  epochs: number;
  /** Where to start: a saved position, or the beginning of epoch 1. */
  start?: FitPosition;
  /** The optimizer that applies the gradients. */
  optimizer: Optimizer;
  /** Largest global gradient norm; 0 disables. @default 1 */
  clip?: number;
  /**
   * Carry the state the model's loss returns into the next batch (a language
   * model read in sequential order); otherwise each batch starts from zeros.
   * @default false
   */
  carry?: boolean;
  /** Draws each epoch's minibatches (offset, order); its state is part of the position. */
  rng: Rng;
  /** Makes one epoch's minibatches from `rng`. */
  batches: (epoch: number, rng: Rng) => Iterable<B> & { readonly numBatches: number };
  /** Scores the model after each epoch (e.g. `{ validPerplexity }`, `{ validAccuracy }`). */
  validate?: (model: TrainableModel<B>) => Promise<Record<string, number>>;
  /** The metric that decides the best epoch. @default the first key of validate's record, "min" */
  monitor?: Monitor;
  /** Stop when the monitored metric has not improved for this many epochs; 0 never. @default 0 */
  patience?: number;
  /**
   * A further check of each epoch's metrics: a reason when they show the run
   * diverged (e.g. a perplexity that overflowed), else undefined. A
   * non-finite train loss or validation value always counts.
   */
  checkEpoch?: (metrics: EpochMetrics) => string | undefined;
  /** stop: throw {@linkcode NonFiniteLossError}; skip: drop the step and halve the learning rate. @default "stop" */
  onNonFinite?: NonFinitePolicy;
  /** Called after each step, for progress lines. */
  onStep?: (progress: StepProgress) => void;
  /** Called when a non-finite step was skipped, with the new learning rate. */
  onSkip?: (progress: StepProgress, learningRate: number) => void;
  /** Called after each epoch with where the next one starts; awaited (a script samples and saves here). */
  onEpoch?: (metrics: EpochMetrics, next: FitPosition, info: EpochInfo) => void | Promise<void>;
  /** Asked between steps; true ends training early (e.g. on SIGINT). */
  shouldStop?: () => boolean;
  /**
   * The learning rate by step over the whole run (set on the optimizer before
   * each step); absent: the optimizer's own rate throughout.
   */
  schedule?: LrSchedule;
  /** Decoupled weight decay (AdamW; L2 for plain SGD), see `decayWeights`. @default 0 */
  weightDecay?: number;
  /** Call `onCheckpoint` every this many steps inside an epoch; 0 never. @default 0 */
  checkpointEvery?: number;
  /** Called every `checkpointEvery` steps with the position to save; awaited. */
  onCheckpoint?: (position: FitPosition) => void | Promise<void>;
}

/** What {@linkcode fit} returns. */
export interface FitResult {
  /** The metrics of every epoch that finished. */
  history: EpochMetrics[];
  /** Where training stopped when `shouldStop` ended it; its state tensors are the caller's. */
  stoppedAt?: FitPosition;
  /** The step count of the epoch `stoppedAt` is in. */
  stoppedSteps?: number;
  /** Set when patience ran out (now or in the run resumed): the best epoch. */
  earlyStop?: BestSoFar;
}

/**
 * Thrown inside {@linkcode fit} when the loss or gradient stops being a
 * finite number, or an epoch's metrics show the run diverged.
 *
 * @example What the error says
 * ```ts
 * import { ok } from "node:assert";
 * import { NonFiniteLossError } from "./fit.ts";
 * const error = new NonFiniteLossError(2, 17, NaN, 3.5);
 * ok(error.message.includes("17"));
 * ```
 */
export class NonFiniteLossError extends Error {
  /**
   * The error for a loss or gradient norm that is not finite.
   *
   * @param epoch where it happened (1-based).
   * @param step the minibatch within that epoch (1-based).
   * @param loss the loss there; @param gradNorm the gradient's global norm there.
   * @param detail for an epoch's metrics: what was not finite.
   */
  constructor(
    readonly epoch: number,
    readonly step: number,
    readonly loss: number,
    readonly gradNorm: number,
    readonly detail?: string,
  ) {
    super(
      detail === undefined
        ? `Training diverged at epoch ${epoch}, step ${step}: loss ${loss}, gradient norm ${gradNorm}`
        : `Training diverged at epoch ${epoch}: ${detail}`,
    );
    this.name = "NonFiniteLossError";
  }
}

/** A seed for one step's dropout masks, fixed by its place in the run. */
function stepSeed(epoch: number, step: number): number {
  return (Math.imul(epoch, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca77)) >>> 0;
}

/**
 * Trains from a position (or the start) through epoch `epochs`.
 *
 * Each step reads its loss and gradient norm back before the update, so a
 * NaN or Inf never reaches the weights and the report names the exact step.
 *
 * @typeParam B the model's batch type.
 * @throws {NonFiniteLossError} when a step or an epoch's metrics are not finite
 *   (a step only with `onNonFinite: "stop"`).
 *
 * @example A least-squares model (a language model is trained the same way)
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { Rng } from "../rng.ts";
 * import { makeOptimizer } from "./train.ts";
 * import type { TrainableModel } from "./model.ts";
 * const w = tf.variable(tf.zeros([1]), true, "w");
 * const model: TrainableModel<number> = {
 *   kind: "toy", config: {}, trainableVariables: [w],
 *   loss: (x) => ({ loss: tf.tidy(() => tf.square(tf.sub(tf.mul(w, x), 2 * x)).mean() as tf.Scalar), count: 1 }),
 *   namedWeights: () => ({ w: w.clone() }),
 *   setNamedWeights: (named) => w.assign(named.w as tf.Tensor1D),
 *   dispose: () => w.dispose(),
 * };
 * const { history } = await fit(model, {
 *   epochs: 20, optimizer: makeOptimizer("adam", 0.1), rng: new Rng(0),
 *   batches: () => Object.assign([1, 2], { numBatches: 2 }),
 *   validate: async () => ({ w: (await w.data())[0] }),
 * });
 * ok(history[19].trainLoss < history[0].trainLoss);
 * model.dispose();
 * ```
 */
export async function fit<B>(model: TrainableModel<B>, options: FitOptions<B>): Promise<FitResult> {
  const { rng } = options;
  const patience = options.patience ?? 0;
  if (!Number.isInteger(patience) || patience < 0) {
    throw new UsageError(`Cannot fit: patience is ${patience}, expected an integer >= 0`);
  }
  const history: EpochMetrics[] = [];
  let position: FitPosition = options.start ??
    { epoch: 1, step: 0, epochRngState: rng.state, lossSum: 0, items: 0, seconds: 0 };
  let best = position.best;
  const exhausted = (b: BestSoFar | undefined, done: number) =>
    patience > 0 && b !== undefined && done - b.epoch >= patience;
  if (position.step === 0 && exhausted(best, position.epoch - 1)) {
    disposeStates(position.state);
    return { history, earlyStop: best };
  }
  const scheduled = isScheduled(options.schedule);
  let skipScale = 1; // --on-nan skip halves the scheduled rate from then on
  while (position.epoch <= options.epochs) {
    const { epoch } = position;
    rng.state = position.epochRngState;
    const batches = options.batches(epoch, rng);
    const count = batches.numBatches;
    const every = options.checkpointEvery ?? 0;
    let { step, lossSum, items, state } = position;
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
        const stoppedAt = { ...position, step, lossSum, items, seconds, state, best };
        return { history, stoppedAt, stoppedSteps: count };
      }
      if (scheduled) {
        const rate = scheduledRate(
          options.schedule!,
          (epoch - 1) * count + step,
          options.epochs * count,
        );
        setLearningRate(options.optimizer, rate * skipScale);
      }
      const done = await guardedStep(model, options, batch, state, { epoch, step, steps: count });
      step += 1;
      if (done === undefined) { // a skipped non-finite step
        skipScale /= 2;
        continue;
      }
      disposeStates(state);
      state = options.carry ? done.state : undefined;
      if (!options.carry) disposeStates(done.state);
      lossSum += done.loss * done.count;
      items += done.count;
      options.onStep?.({ epoch, step, steps: count, loss: lossSum / items });
      if (every > 0 && step % every === 0 && step < count) {
        const seconds = (performance.now() - clock) / 1000;
        await options.onCheckpoint?.({ ...position, step, lossSum, items, seconds, state, best });
      }
    }
    disposeStates(state);
    const seconds = (performance.now() - clock) / 1000;
    const metrics: EpochMetrics = {
      epoch,
      trainLoss: lossSum / items,
      items,
      seconds,
      itemsPerSec: items / seconds,
      validation: options.validate ? await options.validate(model) : {},
    };
    const problem = divergence(metrics) ?? options.checkEpoch?.(metrics);
    if (problem) throw new NonFiniteLossError(epoch, count, metrics.trainLoss, NaN, problem);
    const improved = improves(metrics, best, options);
    if (improved) best = { epoch, value: metrics.validation[monitorOf(metrics, options)!.metric] };
    history.push(metrics);
    position = {
      epoch: epoch + 1,
      step: 0,
      epochRngState: rng.state,
      lossSum: 0,
      items: 0,
      seconds: 0,
      ...(best ? { best } : {}),
    };
    const earlyStop = exhausted(best, epoch) && epoch < options.epochs;
    await options.onEpoch?.(metrics, position, { improved, best, earlyStop });
    if (earlyStop) return { history, earlyStop: best };
  }
  return { history };
}

/** What in an epoch's metrics is not a finite number, or undefined. */
function divergence(metrics: EpochMetrics): string | undefined {
  if (!Number.isFinite(metrics.trainLoss)) return `train loss ${metrics.trainLoss}`;
  for (const [name, value] of Object.entries(metrics.validation)) {
    if (!Number.isFinite(value)) return `${name} ${value}`;
  }
  return undefined;
}

/** The monitor in force: the option, or the first validation metric, lower better. */
function monitorOf<B>(metrics: EpochMetrics, options: FitOptions<B>): Monitor | undefined {
  if (options.monitor) return options.monitor;
  const first = Object.keys(metrics.validation)[0];
  return first === undefined ? undefined : { metric: first, mode: "min" };
}

function improves<B>(
  metrics: EpochMetrics,
  best: BestSoFar | undefined,
  options: FitOptions<B>,
): boolean {
  const monitor = monitorOf(metrics, options);
  if (!monitor) return false;
  const value = metrics.validation[monitor.metric];
  if (value === undefined) {
    throw new UsageError(
      `Cannot fit: the monitored metric "${monitor.metric}" is not among validate()'s ` +
        `${Object.keys(metrics.validation).join(", ") || "(none)"}`,
    );
  }
  if (!best) return true;
  return monitor.mode === "min" ? value < best.value : value > best.value;
}

/**
 * One minibatch: gradients, then the NaN guard (loss and gradient norm read
 * back before anything changes), then clipping and the update.
 *
 * @param at the step about to run (`step` counts the ones done).
 * @returns the loss, its count and the next state (the caller's), or
 *   undefined when the step was non-finite and skipped.
 * @throws {NonFiniteLossError} when non-finite and the policy is "stop".
 */
async function guardedStep<B>(
  model: TrainableModel<B>,
  options: FitOptions<B>,
  batch: B,
  state: State[] | undefined,
  at: { epoch: number; step: number; steps: number },
): Promise<{ loss: number; count: number; state?: State[] } | undefined> {
  const result = computeGradients(model, batch, state, { seed: stepSeed(at.epoch, at.step) });
  const norm = globalNorm(result.grads);
  const loss = (await result.loss.data())[0];
  const gradNorm = (await norm.data())[0];
  result.loss.dispose();
  if (Number.isFinite(loss) && Number.isFinite(gradNorm)) {
    const rate = learningRateOf(options.optimizer);
    decayWeights(model.trainableVariables, rate, options.weightDecay ?? 0);
    tf.dispose(applyGradients(options.optimizer, result.grads, options.clip ?? 1, norm));
    return { loss, count: result.count, state: result.state };
  }
  tf.dispose([norm, ...Object.values(result.grads)]);
  disposeStates(result.state);
  if ((options.onNonFinite ?? "stop") === "stop") {
    disposeStates(state);
    throw new NonFiniteLossError(at.epoch, at.step + 1, loss, gradNorm);
  }
  const rate = learningRateOf(options.optimizer) / 2;
  setLearningRate(options.optimizer, rate);
  options.onSkip?.({ ...at, step: at.step + 1, loss }, rate);
  return undefined;
}
