/**
 * A generate run on disk: the config it saves, and loading it back typed,
 * for `deno task generate` (training, `--resume`, sampling a trained run).
 *
 * @module
 */
import { ConditionedGenerator, type GeneratorConfig, generatorConfig } from "./model.ts";
import type { DatasetSettings } from "../supervised/labelled_set.ts";
import type { TrainSettings } from "../training/settings.ts";
import {
  type CheckpointChoice,
  type LoadedModel,
  loadModel,
  type LoadModelOptions,
} from "../training/run.ts";

/** What a generate run saves as its config. */
export interface GenerateRunConfig {
  /** The generator's shape. */
  model: GeneratorConfig;
  /** How the data set was built, and the condition names in id order. */
  data: DatasetSettings & { labels: string[] };
  /** How it was trained. */
  train: TrainSettings;
}

/**
 * The generator's half of loading a checkpoint: its kind, and the model its
 * saved config builds.
 *
 * @example Its kind
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { GENERATOR_RUN } from "./run.ts";
 * strictEqual(GENERATOR_RUN.kind, "generator");
 * ```
 */
export const GENERATOR_RUN: LoadModelOptions<ConditionedGenerator, GenerateRunConfig> = {
  kind: "generator",
  build: (config) => new ConditionedGenerator(generatorConfig(config.model)),
};

/**
 * Loads a trained generator from a run or checkpoint directory, with its
 * config typed.
 *
 * @param which for a run directory: its `best` or `last` checkpoint.
 * @throws {UsageError} when it is not a checkpoint or holds another kind.
 *
 * @example A directory that is not a checkpoint
 * ```ts
 * import { rejects } from "node:assert";
 * import { UsageError } from "../errors.ts";
 * import { loadGeneratorRun } from "./run.ts";
 * const dir = await Deno.makeTempDir();
 * await rejects(loadGeneratorRun(dir), UsageError);
 * await Deno.remove(dir);
 * ```
 */
export function loadGeneratorRun(
  dir: string,
  which: CheckpointChoice = "best",
): Promise<LoadedModel<ConditionedGenerator, GenerateRunConfig>> {
  return loadModel(dir, { ...GENERATOR_RUN, which });
}
