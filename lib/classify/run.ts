/**
 * A classify run on disk: the config it saves, and loading it back typed,
 * for `deno task classify` and for `generate --classifier`, which judges its
 * samples with a trained classifier.
 *
 * @module
 */
import { type ClassifierConfig, classifierConfig, SequenceClassifier } from "./model.ts";
import type { DatasetSettings } from "../supervised/labelled_set.ts";
import type { TrainSettings } from "../training/settings.ts";
import {
  type CheckpointChoice,
  type LoadedModel,
  loadModel,
  type LoadModelOptions,
} from "../training/run.ts";

/** What a classify run saves as its config. */
export interface ClassifyRunConfig {
  /** The classifier's shape. */
  model: ClassifierConfig;
  /** How the data set was built, and the label names in id order. */
  data: DatasetSettings & { labels: string[] };
  /** How it was trained. */
  train: TrainSettings;
}

/**
 * The classifier's half of loading a checkpoint: its kind, and the model its
 * saved config builds.
 *
 * @example Its kind
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { CLASSIFIER_RUN } from "./run.ts";
 * strictEqual(CLASSIFIER_RUN.kind, "classifier");
 * ```
 */
export const CLASSIFIER_RUN: LoadModelOptions<SequenceClassifier, ClassifyRunConfig> = {
  kind: "classifier",
  build: (config) => new SequenceClassifier(classifierConfig(config.model)),
};

/**
 * Loads a trained classifier from a run or checkpoint directory, with its
 * config typed.
 *
 * @param which for a run directory: its `best` or `last` checkpoint.
 * @throws {UsageError} when it is not a checkpoint or holds another kind.
 *
 * @example A directory that is not a checkpoint
 * ```ts
 * import { rejects } from "node:assert";
 * import { UsageError } from "../errors.ts";
 * import { loadClassifierRun } from "./run.ts";
 * const dir = await Deno.makeTempDir();
 * await rejects(loadClassifierRun(dir), UsageError);
 * await Deno.remove(dir);
 * ```
 */
export function loadClassifierRun(
  dir: string,
  which: CheckpointChoice = "best",
): Promise<LoadedModel<SequenceClassifier, ClassifyRunConfig>> {
  return loadModel(dir, { ...CLASSIFIER_RUN, which });
}
