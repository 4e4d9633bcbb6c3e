/**
 * A classify run on disk: the config it saves, and loading it back typed,
 * for `deno task classify` and for `generate --classifier`, which judges its
 * samples with a trained classifier.
 *
 * @module
 */
import { type ClassifierConfig, classifierConfig, SequenceClassifier } from "./model.ts";
import type { LoadModelOptions } from "../training/run.ts";
import { type LabelledRunConfig, type RunLoader, runLoader } from "../training/task_run.ts";

/** What a classify run saves as its config: the classifier's shape, its data and labels, its training. */
export type ClassifyRunConfig = LabelledRunConfig<ClassifierConfig>;

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
 * Loads a trained classifier from a run or checkpoint directory (a run's
 * `best` unless `which` says `last`), with its config typed.
 *
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
export const loadClassifierRun: RunLoader<SequenceClassifier, ClassifyRunConfig> = runLoader(
  CLASSIFIER_RUN,
);
