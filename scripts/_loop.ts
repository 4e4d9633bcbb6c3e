/**
 * What the training loop of every task script (`train`, `classify`,
 * `generate`, `translate`) does the same way: the run's epochs and patience
 * on `--resume`, the learning-rate schedule and weight decay handed to `fit`,
 * progress with a whole-run ETA, and the status lines.
 *
 * @module
 */
import type { LoopSettings } from "../lib/training/settings.ts";
import { info, Progress } from "./_cli.ts";
import type { FitPosition } from "../lib/training/fit.ts";
import type { LrSchedule, LrScheduleName } from "../lib/training/schedule.ts";

/** The loop settings a run saves with its training settings. */
export type { LoopSettings };

/** The loop settings from parsed flags (a fresh run). */
export function loopSettings(flags: {
  epochs: number;
  patience: number;
  lrSchedule: LrScheduleName;
  warmupSteps: number;
  weightDecay: number;
}): Required<LoopSettings> {
  const { epochs, patience, lrSchedule, warmupSteps, weightDecay } = flags;
  return { epochs, patience, lrSchedule, warmupSteps, weightDecay };
}

/** Whether `--name` was given on the command line (rather than left at its default). */
export function givenFlag(args: readonly string[], name: string): boolean {
  return args.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
}

/**
 * The run's total epochs and patience: on `--resume` the saved ones unless
 * given anew (`legacyPatience` for a run saved before patience was recorded).
 */
export function runSchedule(
  args: readonly string[],
  flags: { epochs: number; patience: number },
  saved: LoopSettings | undefined,
  legacyPatience: number,
): { epochs: number; patience: number } {
  const epochs = saved && !givenFlag(args, "epochs") ? saved.epochs ?? flags.epochs : flags.epochs;
  const patience = saved && !givenFlag(args, "patience")
    ? saved.patience ?? legacyPatience
    : flags.patience;
  return { epochs, patience };
}

/** The options of `fit` that come from the loop settings and `--checkpoint-every`. */
export function loopOptions(
  train: LoopSettings & { lr: number },
  checkpointEvery: number,
  onCheckpoint: (position: FitPosition) => Promise<void>,
) {
  const schedule: LrSchedule = {
    name: train.lrSchedule ?? "constant",
    lr: train.lr,
    warmupSteps: train.warmupSteps ?? 0,
  };
  return { schedule, weightDecay: train.weightDecay ?? 0, checkpointEvery, onCheckpoint };
}

/** "resuming at epoch E of N" (and the step inside it), for the opening line. */
export function resumingText(position: FitPosition, epochs: number): string {
  if (position.epoch > epochs) {
    return `resuming after all ${epochs} epochs: nothing left to train (a larger --epochs goes on)`;
  }
  return `resuming at epoch ${position.epoch} of ${epochs}` +
    (position.step > 0 ? `, after step ${position.step}` : "");
}

/** The line after Ctrl-C / SIGTERM: where it stopped and how to go on. */
export function stoppedText(
  signal: string | undefined,
  at: FitPosition,
  steps: number | undefined,
  checkpointDir: string,
  out: string,
): string {
  return `${signal}: stopped at epoch ${at.epoch}, step ${at.step}` +
    (steps === undefined ? "" : ` of ${steps}`) +
    `; checkpoint in ${checkpointDir} (continue with --resume ${out})`;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}

/**
 * Progress of a whole run: a bar per epoch labelled `epoch E/N` with the
 * run's ETA on a terminal, and one line per finished epoch on stderr when
 * stderr is not a terminal (piped, logged). Silent with `--json`.
 */
export class RunProgress {
  #bar: Progress | undefined;
  #started = performance.now();
  #done = 0; // steps run by this process
  #steps = 0; // steps of the current epoch
  #epochStarted = performance.now();
  readonly #tty = Deno.stderr.isTerminal();

  /**
   * @param epochs the run's last epoch.
   * @param silent draw and print nothing (`--json`).
   */
  constructor(readonly epochs: number, readonly silent: boolean) {}

  /** The run's estimated time left after `step` of `steps` in `epoch`. */
  eta(epoch: number, step: number, steps: number): string {
    const perStep = (performance.now() - this.#started) / 1000 / Math.max(1, this.#done);
    const left = (steps - step) + (this.epochs - epoch) * steps;
    return duration(perStep * left);
  }

  /** A finished step; `text` follows the bar (e.g. the loss so far). */
  step(epoch: number, step: number, steps: number, text: string): void {
    this.#done += 1;
    this.#steps = steps;
    if (this.silent || !this.#tty) return;
    this.#bar ??= new Progress(steps, { label: `epoch ${epoch}/${this.epochs}` });
    this.#bar.update(step, `${text} | run ETA ${this.eta(epoch, step, steps)}`);
  }

  /** An epoch ended: clears the bar, or prints its one line when not on a terminal. */
  epochDone(epoch: number): void {
    this.stop();
    const seconds = (performance.now() - this.#epochStarted) / 1000;
    this.#epochStarted = performance.now();
    if (this.silent || this.#tty) return;
    info(
      `epoch ${epoch}/${this.epochs} done: ${this.#steps} steps in ${seconds.toFixed(1)}s, ` +
        `run ETA ${epoch >= this.epochs ? "0s" : this.eta(epoch, this.#steps, this.#steps)}`,
    );
  }

  /** Removes the bar. */
  stop(): void {
    this.#bar?.stop();
    this.#bar = undefined;
  }
}
