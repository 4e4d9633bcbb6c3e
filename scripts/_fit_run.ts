/**
 * The training loop of every task script (`train`, `classify`, `generate`,
 * `translate`): opening the run directory, the optimizer, and `fit` with a
 * progress bar, a checkpoint (and the best) after every epoch, one printed
 * line or JSON row per epoch, `--on-nan`, and Ctrl-C / SIGTERM saving a
 * checkpoint to `--resume` from.
 *
 * @module
 */
import type { TrainSettings } from "../lib/training/settings.ts";
import { type BackendInfo, describeBackend, type tf } from "../lib/tf.ts";
import { emitJson, info } from "./_cli.ts";
import { watchSignals } from "./_signals.ts";
import {
  loopOptions,
  type LoopSettings,
  loopSettings,
  RunProgress,
  runSchedule,
  stoppedText,
} from "./_loop.ts";
import {
  type EpochMetrics,
  fit,
  type FitOptions,
  type FitPosition,
  type FitResult,
  NonFiniteLossError,
  type NonFinitePolicy,
} from "../lib/training/fit.ts";
import { disposeStates } from "../lib/cells/state.ts";
import { Rng } from "../lib/rng.ts";
import { makeOptimizer, type OptimizerName } from "../lib/training/train.ts";
import type { TrainableModel } from "../lib/training/model.ts";
import {
  checkRunDir,
  type HistoryRow,
  type LoadModelOptions,
  loadResumable,
  type ResumableCheckpoint,
  type RunWriter,
} from "../lib/training/run.ts";
import { lockRunDir } from "../lib/training/run_lock.ts";
import { runMode } from "./_task_flags.ts";
import { UsageError } from "../lib/errors.ts";

export type { TrainSettings };

/** The training settings from parsed flags. */
export function trainSettings(
  flags: Omit<TrainSettings, keyof LoopSettings> & Parameters<typeof loopSettings>[0],
): TrainSettings {
  const { batchSize, optimizer, lr, clip, seed } = flags;
  return { batchSize, optimizer, lr, clip, seed, ...loopSettings(flags) };
}

/**
 * The training settings of a run: a fresh run's from the flags, a resumed
 * one's as saved, with its total epochs and patience (kept unless `--epochs`
 * or `--patience` is given anew; a run saved before they were recorded never
 * stopped early).
 */
export function runTrainSettings(
  args: readonly string[],
  flags: Parameters<typeof trainSettings>[0],
  saved: TrainSettings | undefined,
): TrainSettings {
  const base = saved ?? trainSettings(flags);
  return { ...base, ...runSchedule(args, flags, saved, 0) };
}

/** A run directory opened for training: locked until disposed (`using`). */
export interface OpenedRun<M, C> extends Disposable {
  /** The run directory written: `--resume`'s, else `--out`. */
  out: string;
  /** The checkpoint `--resume` continues, with its config typed; undefined for a new run. */
  resumed: ResumableCheckpoint<M, C> | undefined;
  /** The training settings: the resumed run's (with `--epochs`/`--patience` given anew), else the flags'. */
  settings: TrainSettings;
}

/**
 * Opens the run directory a task trains into, the same way for every task:
 * refuses `--resume` with `--overwrite`, loads the run `--resume` names (typed by the task's `kind`), checks the
 * directory against `--resume`/`--overwrite`, takes its lock, and works out the
 * training settings. A resumed model is disposed if the directory is refused.
 */
export async function openTrainingRun<
  M extends TrainableModel<unknown>,
  C extends { train: TrainSettings },
>(
  args: readonly string[],
  flags: Parameters<typeof trainSettings>[0] & { resume?: string; out: string; overwrite: boolean },
  kind: LoadModelOptions<M, C>,
): Promise<OpenedRun<M, C>> {
  if (flags.resume !== undefined && flags.overwrite) {
    throw new UsageError("Cannot train with --resume and --overwrite: choose one");
  }
  const resumed = flags.resume === undefined ? undefined : await loadResumable(flags.resume, kind);
  const out = flags.resume ?? flags.out;
  try {
    await checkRunDir(out, { mode: runMode(flags), kind: kind.kind });
  } catch (error) {
    resumed?.model.dispose();
    resumed?.optimizer.dispose();
    throw error;
  }
  const lock = await lockRunDir(out);
  const settings = runTrainSettings(args, flags, resumed?.config.train);
  return { out, resumed, settings, [Symbol.dispose]: () => lock[Symbol.dispose]() };
}

/** The optimizer of a run: the resumed one in its saved state, or a fresh one. */
export function runOptimizer(
  resumed: { optimizer: tf.Optimizer; optimizerName: OptimizerName } | undefined,
  train: TrainSettings,
): { optimizer: tf.Optimizer; optimizerName: OptimizerName } {
  if (resumed) return { optimizer: resumed.optimizer, optimizerName: resumed.optimizerName };
  return { optimizer: makeOptimizer(train.optimizer, train.lr), optimizerName: train.optimizer };
}

/**
 * The options of {@linkcode fitRun} that every task sets the same way: the
 * run, the optimizer, the saved position to resume from, and the epochs,
 * patience, clipping, schedule, weight decay and random stream from the
 * run's settings.
 */
export function runBasics(
  run: RunWriter,
  training: {
    model: TrainableModel<never>;
    optimizer: tf.Optimizer;
    optimizerName: OptimizerName;
  },
  flags: { json: boolean; checkpointEvery: number; onNan: NonFinitePolicy },
  train: TrainSettings,
  start?: FitPosition,
) {
  return {
    run,
    ...training,
    out: run.dir,
    json: flags.json,
    epochs: train.epochs!,
    patience: train.patience ?? 0,
    start,
    clip: train.clip,
    onNonFinite: flags.onNan,
    rng: new Rng(train.seed),
    ...loopOptions(train, flags.checkpointEvery, async (position) => {
      await run.save(training.model, {
        optimizer: training.optimizer,
        name: training.optimizerName,
      }, position);
    }),
  };
}

/** What an epoch prints: its row (metrics.jsonl and `--json`) and its line of text. */
export interface EpochReport {
  row: HistoryRow & { event: "epoch" };
  line: string;
}

/**
 * An epoch's row as the tasks on data sets write it (metrics.jsonl and
 * `--json`), one layout for all: the epoch and its training loss, the task's
 * own figures, the speed under the name of what the task counts, the
 * seconds and the backend.
 *
 * @param own the task's figures after the training loss, e.g. its validation scores.
 * @param speed the speed's key, e.g. `examplesPerSec`.
 */
export function epochRow(
  metrics: EpochMetrics,
  own: Record<string, number>,
  speed: string,
  backend: BackendInfo,
): EpochReport["row"] {
  return {
    event: "epoch",
    epoch: metrics.epoch,
    trainLoss: metrics.trainLoss,
    ...own,
    [speed]: metrics.itemsPerSec,
    seconds: metrics.seconds,
    backend: describeBackend(backend),
  };
}

/** Options of {@linkcode fitRun}. */
export interface FitRunOptions<B>
  extends Omit<FitOptions<B>, "onStep" | "onEpoch" | "onSkip" | "shouldStop" | "optimizer"> {
  run: RunWriter;
  optimizer: tf.Optimizer;
  optimizerName: OptimizerName;
  /** The run directory, for the resume hint. */
  out: string;
  json: boolean;
  /** The progress bar's text for the mean loss so far (e.g. the loss, a perplexity). */
  stepText: (loss: number) => string;
  /** The epoch's row and line, from its metrics. */
  report: (metrics: EpochMetrics, improved: boolean) => EpochReport;
  /** Per-epoch work after the epoch's checkpoint is written and its line printed (e.g. a sample). */
  afterEpoch?: (epoch: number) => Promise<void>;
}

/** What {@linkcode fitRun} returns: the core's result, and the exit code of an interrupted run. */
export interface FitRunResult extends Omit<FitResult, "stoppedAt"> {
  /** 130 (SIGINT) or 143 (SIGTERM) when a signal stopped the run, after saving where it stopped. */
  exitCode?: number;
}

/**
 * Trains with {@linkcode fit}, saving and reporting every epoch, the same way
 * for every task: a progress bar, a checkpoint (and the best) after every
 * epoch, one printed line or JSON row per epoch, a warning per step skipped by
 * `--on-nan skip`, a diverged run's error naming the last good checkpoint, and
 * Ctrl-C / SIGTERM saving a checkpoint to `--resume` from.
 *
 * @throws {Error} when the run diverges (`--on-nan stop`, or an epoch that is
 *   not finite): the core's message, where the last good checkpoint is, and
 *   what to try.
 */
export async function fitRun<B>(
  model: TrainableModel<B>,
  options: FitRunOptions<B>,
): Promise<FitRunResult> {
  const { run, optimizer, optimizerName, json } = options;
  const progress = new RunProgress(options.epochs, json);
  const stop = watchSignals(() => progress.stop());
  try {
    const result = await fit(model, {
      ...options,
      shouldStop: () => stop.signal !== undefined,
      onStep: ({ epoch, step, steps, loss }) => {
        if (stop.signal) return; // the acknowledgement stays on screen
        progress.step(epoch, step, steps, options.stepText(loss));
      },
      onSkip: ({ epoch, step, loss }, rate) =>
        info(
          `warning: skipped epoch ${epoch}, step ${step} (loss ${loss}); learning rate now ${rate}`,
        ),
      onEpoch: async (metrics, next, { improved }) => {
        progress.epochDone(metrics.epoch);
        const { row, line } = options.report(metrics, improved);
        await run.save(model, { optimizer, name: optimizerName }, next, { row, best: improved });
        if (json) emitJson(row);
        else console.log(line + (improved ? " (best)" : ""));
        await options.afterEpoch?.(metrics.epoch);
      },
    }).catch((error) => {
      progress.stop();
      throw error instanceof NonFiniteLossError ? divergedError(error, run, options) : error;
    });
    progress.stop();
    const { stoppedAt, ...rest } = result;
    if (!stoppedAt) return rest;
    await run.save(model, { optimizer, name: optimizerName }, stoppedAt);
    disposeStates(stoppedAt.state);
    const { epoch, step } = stoppedAt;
    if (json) {
      emitJson({
        event: "interrupted",
        signal: stop.signal,
        checkpoint: run.checkpointDir,
        epoch,
        step,
      });
    }
    info(stoppedText(stop.signal, stoppedAt, result.stoppedSteps, run.checkpointDir, options.out));
    return { ...rest, exitCode: stop.signal === "SIGINT" ? 130 : 143 };
  } finally {
    progress.stop();
    stop.dispose();
  }
}

/** A diverged run's error: what the core saw, where the last good checkpoint is, what to try. */
function divergedError(
  error: NonFiniteLossError,
  run: RunWriter,
  options: { out: string; onNonFinite?: NonFinitePolicy },
): Error {
  const last = run.history.at(-1);
  const kept = last
    ? `the last good checkpoint (epoch ${last.epoch}) is in ${run.checkpointDir}`
    : `no checkpoint was written (${options.out} is as it was)`;
  // --on-nan skip drops bad steps, not a diverged epoch: then a lower --lr helps.
  const advice = options.onNonFinite === "skip" || error.detail !== undefined
    ? "try a lower --lr or a smaller --clip"
    : "--on-nan skip drops such steps instead";
  return new Error(`${error.message}; ${kept}; ${advice}`);
}
