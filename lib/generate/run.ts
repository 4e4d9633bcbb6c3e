/**
 * A generate run on disk: the config it saves, and loading it back typed,
 * for `deno task generate` (training, `--resume`, sampling a trained run).
 *
 * @module
 */
import { ConditionedGenerator, type GeneratorConfig, generatorConfig } from "./model.ts";
import type { LoadModelOptions } from "../training/run.ts";
import { type LabelledRunConfig, type RunLoader, runLoader } from "../training/task_run.ts";

/**
 * What a generate run saves as its config: the generator's shape, its data
 * and condition names (its labels), its training.
 */
export type GenerateRunConfig = LabelledRunConfig<GeneratorConfig>;

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
 * Loads a trained generator from a run or checkpoint directory (a run's
 * `best` unless `which` says `last`), with its config typed.
 *
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
export const loadGeneratorRun: RunLoader<ConditionedGenerator, GenerateRunConfig> = runLoader(
  GENERATOR_RUN,
);
