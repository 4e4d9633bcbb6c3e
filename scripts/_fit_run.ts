/**
 * The training loop of a task script, shared by `classify`, `generate` and
 * `translate`: `fit` with a progress bar, a checkpoint (and the best) after
 * every epoch, one printed line or JSON row per epoch, and Ctrl-C / SIGTERM
 * saving a checkpoint to `--resume` from.
 *
 * @module
 */
import type { tf } from "../lib/tf.ts";
import { emitJson, info, Progress } from "./_cli.ts";
import { watchSignals } from "./_signals.ts";
import { type EpochMetrics, fit, type FitOptions, type FitPosition } from "../lib/training/fit.ts";
import { Rng } from "../lib/rng.ts";
import { makeOptimizer, type OptimizerName } from "../lib/training/train.ts";
import type { TrainableModel } from "../lib/training/model.ts";
import type { HistoryRow, RunWriter } from "../lib/training/run.ts";

/** The training settings a task saves with its run. */
export interface TrainSettings {
  batchSize: number;
  optimizer: OptimizerName;
  lr: number;
  clip: number;
  seed: number;
}

/** The training settings from parsed flags. */
export function trainSettings(flags: TrainSettings): TrainSettings {
  const { batchSize, optimizer, lr, clip, seed } = flags;
  return { batchSize, optimizer, lr, clip, seed };
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
 * run, the optimizer, the epochs and patience from the flags, the saved
 * position to resume from, and clipping and the random stream from the
 * run's settings.
 */
export function runBasics(
  run: RunWriter,
  training: { optimizer: tf.Optimizer; optimizerName: OptimizerName },
  flags: { json: boolean; epochs: number; patience: number },
  train: TrainSettings,
  start?: FitPosition,
) {
  return {
    run,
    ...training,
    out: run.dir,
    json: flags.json,
    epochs: flags.epochs,
    patience: flags.patience,
    start,
    clip: train.clip,
    rng: new Rng(train.seed),
  };
}

/** What an epoch prints: its row (metrics.jsonl and `--json`) and its line of text. */
export interface EpochReport {
  row: HistoryRow & { event: "epoch" };
  line: string;
}

/** Options of {@linkcode fitRun}. */
export interface FitRunOptions<B>
  extends Omit<FitOptions<B>, "onStep" | "onEpoch" | "shouldStop" | "optimizer"> {
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
  /** Called after each epoch's checkpoint is written. */
  afterSave?: (epoch: number) => Promise<void>;
}

/**
 * Trains with {@linkcode fit}, saving and reporting every epoch.
 *
 * @returns undefined when every epoch ran (or patience stopped it), else the
 *   exit code of an interrupted run (130 for SIGINT, 143 for SIGTERM), after
 *   saving where it stopped.
 */
export async function fitRun<B>(
  model: TrainableModel<B>,
  options: FitRunOptions<B>,
): Promise<number | undefined> {
  const { run, optimizer, optimizerName, json } = options;
  let bar: Progress | undefined;
  const stop = watchSignals(() => bar?.stop());
  try {
    const result = await fit(model, {
      ...options,
      shouldStop: () => stop.signal !== undefined,
      onStep: ({ epoch, step, steps, loss }) => {
        if (stop.signal) return; // the acknowledgement stays on screen
        bar ??= new Progress(steps, { label: `epoch ${epoch}`, silent: json });
        bar.update(step, options.stepText(loss));
      },
      onEpoch: async (metrics, next, { improved }) => {
        bar?.stop();
        bar = undefined;
        const { row, line } = options.report(metrics, improved);
        await run.save(model, { optimizer, name: optimizerName }, next, { row, best: improved });
        await options.afterSave?.(metrics.epoch);
        if (json) emitJson(row);
        else console.log(line + (improved ? " (best)" : ""));
      },
    });
    bar?.stop();
    if (!result.stoppedAt) return undefined;
    await run.save(model, { optimizer, name: optimizerName }, result.stoppedAt);
    const { epoch, step } = result.stoppedAt;
    if (json) {
      emitJson({
        event: "interrupted",
        signal: stop.signal,
        checkpoint: run.checkpointDir,
        epoch,
        step,
      });
    }
    info(
      `${stop.signal}: stopped at epoch ${epoch}, step ${step}; checkpoint in ` +
        `${run.checkpointDir} (continue with --resume ${options.out})`,
    );
    return stop.signal === "SIGINT" ? 130 : 143;
  } finally {
    bar?.stop();
    stop.dispose();
  }
}
