/**
 * The training settings a run saves in its config beside the model's and the
 * data's: what `--resume` continues with. Shared by every task that trains
 * through the core loop.
 *
 * @module
 */
import type { LrScheduleName } from "./schedule.ts";
import type { OptimizerName } from "./train.ts";

/** The loop's settings: length, early stopping, the learning-rate schedule, decay. */
export interface LoopSettings {
  /** The run's total epochs (absent in runs saved before it was recorded). */
  epochs?: number;
  /** Early stopping: epochs without a better validation score; 0 never. */
  patience?: number;
  /** The learning-rate schedule (absent in older runs: constant). */
  lrSchedule?: LrScheduleName;
  /** Linear warmup steps of the schedule. */
  warmupSteps?: number;
  /** Decoupled weight decay (AdamW; L2 with sgd). */
  weightDecay?: number;
}

/** The training settings a task saves with its run (the loop's included). */
export interface TrainSettings extends LoopSettings {
  /** Examples (or rows) per minibatch. */
  batchSize: number;
  /** The optimizer's name. */
  optimizer: OptimizerName;
  /** The learning rate. */
  lr: number;
  /** Largest global gradient norm; 0 disables. */
  clip: number;
  /** Seed of the weights, the shuffles and dropout. */
  seed: number;
}
