/**
 * What tasks share about their runs on disk: the config a task trained on a
 * labelled data set (`classify`, `generate`) saves, and the typed loader of a
 * task's trained runs (the best checkpoint unless asked otherwise).
 *
 * @module
 */
import type { DatasetSettings } from "../supervised/labelled_set.ts";
import type { TrainSettings } from "./settings.ts";
import {
  type CheckpointChoice,
  type LoadedModel,
  loadModel,
  type LoadModelOptions,
} from "./run.ts";
import type { TrainableModel } from "./model.ts";

/** What a run trained on a labelled data set saves as its config. */
export interface LabelledRunConfig<M> {
  /** The model's shape. */
  model: M;
  /** How the data set was built, and the label names in id order. */
  data: DatasetSettings & { labels: string[] };
  /** How it was trained. */
  train: TrainSettings;
}

/**
 * Loads a trained model of one kind from a run or checkpoint directory, with
 * its config typed.
 *
 * @param dir a run directory or a checkpoint directory.
 * @param which for a run directory: its `best` (the default) or `last` checkpoint.
 * @throws {UsageError} when it is not a checkpoint or holds another kind.
 */
export type RunLoader<M, C> = (
  dir: string,
  which?: CheckpointChoice,
) => Promise<LoadedModel<M, C>>;

/**
 * The loader of a task's trained runs: {@linkcode loadModel} with the task's
 * kind, reading a run directory's best checkpoint unless asked for its last,
 * since a trained run is used (scored, sampled, asked) at its best.
 *
 * @example A directory that is not a checkpoint
 * ```ts
 * import { rejects } from "node:assert";
 * import { UsageError } from "../errors.ts";
 * import { runLoader } from "./task_run.ts";
 * const load = runLoader({ kind: "classifier", build: () => ({}) as never });
 * const dir = await Deno.makeTempDir();
 * await rejects(load(dir), UsageError);
 * await Deno.remove(dir);
 * ```
 */
export function runLoader<M extends TrainableModel<unknown>, C>(
  kind: LoadModelOptions<M, C>,
): RunLoader<M, C> {
  return (dir, which = "best") => loadModel(dir, { ...kind, which });
}
