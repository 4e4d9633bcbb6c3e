/**
 * A model of any kind loaded from a run or checkpoint directory for export,
 * with the run config and vocabulary saved beside it.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { type JsonValue, readManifest } from "../training/checkpoint.ts";
import { type CheckpointChoice, loadModel, resolveCheckpointDir } from "../training/run.ts";
import type { TrainableModel } from "../training/model.ts";
import { LanguageModel, type ModelConfig, modelConfig } from "../lm/model.ts";
import { type ClassifierConfig, classifierConfig, SequenceClassifier } from "../classify/model.ts";
import { ConditionedGenerator, type GeneratorConfig, generatorConfig } from "../generate/model.ts";
import { Seq2Seq } from "../seq2seq/model.ts";
import { type Seq2SeqConfig, seq2seqConfig } from "../seq2seq/config.ts";

/** A model of one of the exportable kinds. */
export type ExportableModel = LanguageModel | SequenceClassifier | ConditionedGenerator | Seq2Seq;

/**
 * The model kinds a checkpoint may hold, with how each is rebuilt from its run
 * config. Each builder reads its own kind's `model` section; `never` lets the
 * table hold them all (a function of `{ model: X }` accepts `{ model: never }`).
 */
const BUILDERS: Record<string, (config: { model: never }) => ExportableModel> = {
  lm: (c: { model: ModelConfig }) => new LanguageModel(modelConfig(c.model)),
  classifier: (c: { model: ClassifierConfig }) => new SequenceClassifier(classifierConfig(c.model)),
  generator: (c: { model: GeneratorConfig }) => new ConditionedGenerator(generatorConfig(c.model)),
  seq2seq: (c: { model: Seq2SeqConfig }) => new Seq2Seq(seq2seqConfig(c.model)),
};

/** The kinds {@linkcode loadForExport} reads. */
export const EXPORTABLE_KINDS: readonly string[] = Object.keys(BUILDERS);

/** What {@linkcode loadForExport} returns; the caller disposes `model`. */
export interface LoadedForExport {
  /** The checkpoint's model kind. */
  kind: string;
  /** The model, ready to export. */
  model: ExportableModel;
  /** The saved run config (`model`, and `data` or `corpus`). */
  config: JsonValue;
  /** The vocabulary as saved in the checkpoint. */
  vocab: JsonValue;
  /** The checkpoint directory read. */
  path: string;
}

/**
 * Loads the model of a run or checkpoint directory, whatever its kind.
 *
 * @throws {UsageError} for a directory that is no checkpoint, or a kind that is not exportable.
 *
 * @example A missing directory is a usage error
 * ```ts
 * import { rejects } from "node:assert";
 * await rejects(() => loadForExport("no/such/run"), /no\/such\/run/);
 * ```
 */
export async function loadForExport(
  dir: string,
  options: { which?: CheckpointChoice } = {},
): Promise<LoadedForExport> {
  const path = await resolveCheckpointDir(dir, options.which ?? "best");
  const manifest = await readManifest(path);
  const kind = manifest.kind ?? "lm";
  const build = BUILDERS[kind];
  if (!build) {
    throw new UsageError(
      `Cannot export checkpoint ${path}: it holds a ${kind} model, expected one of ${
        EXPORTABLE_KINDS.join(", ")
      }`,
    );
  }
  const loaded = await loadModel(path, {
    kind,
    build: build as (c: { model: never }) => ExportableModel & TrainableModel<unknown>,
  });
  return {
    kind,
    model: loaded.model,
    config: loaded.config,
    vocab: loaded.vocab,
    path: loaded.path,
  };
}
