/**
 * A language model's run directory on top of the training core's: the run
 * config (model, corpus, training settings), the vocabulary saved with every
 * checkpoint, the perplexity plot, and loading a checkpoint back as a
 * {@linkcode LanguageModel} to use or to resume.
 *
 * ```
 * DIR/checkpoint/      the last state (weights, optimizer, config, vocabulary, position)
 * DIR/best/            the epoch with the lowest validation perplexity
 * DIR/metrics.jsonl    one object per epoch
 * DIR/perplexity.svg   train and validation perplexity per epoch
 * ```
 *
 * @module
 */
import type { TrainSettings } from "../training/settings.ts";
import type { Optimizer } from "../ops/tensors.ts";
import { UsageError } from "../errors.ts";
import { perplexityPlotSvg } from "../training/plot.ts";
import { LanguageModel, LM_KIND, type ModelConfig, modelConfig } from "./model.ts";
import { Vocab } from "../corpus/vocab.ts";
import type { LmBatchSettings, LmCorpusSettings } from "./data.ts";
import type { FitPosition } from "../training/fit.ts";
import type { OptimizerName } from "../training/train.ts";
import {
  type CheckpointChoice,
  type CheckpointContents,
  type HistoryRow,
  loadModel,
  type LoadModelOptions,
  loadResumable,
  RunWriter,
} from "../training/run.ts";
import type { JsonValue } from "../training/checkpoint.ts";
import type { LmEpochMetrics } from "./fit.ts";

export { checkRunDir, resolveCheckpointDir, RunWriter } from "../training/run.ts";

/** How a language model is trained: the core's settings, with its minibatch shape and sampling. */
export interface LmTrainSettings extends TrainSettings, LmBatchSettings {}

/** What a language model's run saves as its config. */
export interface LmRunConfig {
  /** The model's configuration. */
  model: ModelConfig;
  /** Where the corpus came from and how it was tokenized. */
  corpus: LmCorpusSettings;
  /** How the model was trained. */
  train: LmTrainSettings;
}

/** A model loaded from a checkpoint, with what it was trained with. */
export interface TrainedModel {
  /** The model, weights loaded. */
  model: LanguageModel;
  /** Its vocabulary. */
  vocab: Vocab;
  /** The run's config as saved: `{ model, corpus, train }`. */
  config: LmRunConfig;
  /** The checkpoint directory it came from. */
  path: string;
}

/**
 * A run writer for a language model: its config and vocabulary in every
 * checkpoint, rows in {@linkcode LmEpochMetrics} terms, and `perplexity.svg`.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { Vocab } from "../corpus/vocab.ts";
 * const dir = await Deno.makeTempDir();
 * const run = lmRunWriter(`${dir}/run`, { note: "example" }, Vocab.build(["a", "b"]));
 * ok(run.bestDir.endsWith("/best"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function lmRunWriter(
  dir: string,
  config: unknown,
  vocab: Vocab,
  options: { history?: readonly HistoryRow[]; overwrite?: boolean } = {},
): RunWriter {
  return RunWriter.open(dir, {
    config,
    kind: LM_KIND,
    vocab: vocab.toJSON(),
    history: options.history,
    overwrite: options.overwrite,
    plots: { "perplexity.svg": perplexityPlot },
  });
}

/** The perplexity plot of the epochs whose train perplexity is a number. */
function perplexityPlot(
  history: readonly HistoryRow[],
): Promise<string | undefined> | undefined {
  // An overflowed (null) perplexity cannot be drawn: plot the epochs that have one.
  const drawable = lmHistory(history).filter((m) => Number.isFinite(m.trainPerplexity));
  return drawable.length === 0 ? undefined : perplexityPlotSvg(drawable);
}

/**
 * A language model's history rows in {@linkcode LmEpochMetrics} terms: what
 * its run writer saved, with a validation perplexity that overflowed (saved
 * by JSON as null) read back as absent.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const [row] = lmHistory([{ epoch: 1, trainPerplexity: 9, validPerplexity: null }]);
 * strictEqual(row.validPerplexity, undefined);
 * ```
 */
export function lmHistory(history: readonly HistoryRow[]): (LmEpochMetrics & HistoryRow)[] {
  // The rows are the ones lmRunWriter's caller saved: LmEpochMetrics, null for an overflow.
  type SavedRow = Omit<LmEpochMetrics, "validPerplexity"> & { validPerplexity?: number | null };
  return (history as readonly (SavedRow & HistoryRow)[]).map(({ validPerplexity, ...row }) =>
    validPerplexity === null || validPerplexity === undefined ? row : { ...row, validPerplexity }
  );
}

/** A language model's saved config, refused unless it has the sections every reader needs. */
function readRunConfig(json: JsonValue, path: string): LmRunConfig {
  if (!hasRunSections(json)) {
    throw new UsageError(`Cannot load "${path}": its config has no model and corpus sections`);
  }
  return json;
}

/**
 * Whether saved JSON has the sections of a {@linkcode LmRunConfig}: the one
 * boundary where it becomes the type (its writer was lmRunWriter; the model
 * section is checked again by `modelConfig()` when the model is built).
 */
function hasRunSections(json: unknown): json is LmRunConfig {
  return typeof json === "object" && json !== null && "model" in json && "corpus" in json &&
    typeof json.model === "object" && json.model !== null &&
    typeof json.corpus === "object" && json.corpus !== null;
}

/**
 * The language model's half of loading a checkpoint: its kind, its config
 * reader, its factory.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(LM_RUN.kind, "lm");
 * ```
 */
export const LM_RUN: LoadModelOptions<LanguageModel, LmRunConfig> = {
  kind: LM_KIND,
  config: readRunConfig,
  build: buildLanguageModel,
};

/** The factory the core calls to rebuild a language model from its saved config. */
function buildLanguageModel(
  run: LmRunConfig,
  checkpoint: CheckpointContents<LmRunConfig>,
): LanguageModel {
  const path = checkpoint.path;
  const settings = modelConfig(run.model);
  const vocab = Vocab.fromJSON(checkpoint.vocab);
  if (vocab.size !== settings.vocabSize) {
    throw new UsageError(
      `Cannot load "${path}": its vocabulary has ${vocab.size} tokens but the model ` +
        `expects ${settings.vocabSize}`,
    );
  }
  return new LanguageModel(settings);
}

/**
 * Loads a language model from a run directory or a checkpoint directory, on
 * the active backend (any backend loads any checkpoint).
 *
 * @param options which checkpoint of a run directory: its `best` (lowest
 *   validation perplexity; the last when it has none) or its `last`. @default "last"
 * @throws {UsageError} when the directory is not a checkpoint of this tool,
 *   holds another kind of model, or its config, vocabulary and weights do not
 *   fit together (naming both values).
 *
 * @example A directory that is not a checkpoint
 * ```ts
 * import { rejects } from "node:assert";
 * import { UsageError } from "../errors.ts";
 * import { loadTrainedModel } from "./run.ts";
 * const dir = await Deno.makeTempDir();
 * await rejects(loadTrainedModel(dir), UsageError);
 * await Deno.remove(dir);
 * ```
 */
export async function loadTrainedModel(
  dir: string,
  options: { which?: CheckpointChoice } = {},
): Promise<TrainedModel> {
  const loaded = await loadModel(dir, { ...LM_RUN, which: options.which });
  return trainedFrom(loaded);
}

function trainedFrom(
  loaded: { model: LanguageModel; config: LmRunConfig; vocab: JsonValue; path: string },
): TrainedModel {
  const config = loaded.config;
  return {
    model: loaded.model,
    vocab: Vocab.fromJSON(loaded.vocab),
    config: { ...config, model: loaded.model.config },
    path: loaded.path,
  };
}

/** Everything needed to continue a language model's run where its checkpoint left it. */
export interface ResumableRun extends TrainedModel {
  /** The optimizer with its saved slots. */
  optimizer: Optimizer;
  /** The optimizer's name. */
  optimizerName: OptimizerName;
  /** Where to continue; its `state` tensors are the caller's. */
  position: FitPosition;
  /** The rows of the epochs done. */
  history: (LmEpochMetrics & HistoryRow)[];
}

/**
 * Loads a language model's run to continue it: the model, the optimizer in
 * its saved state, the position (epoch, minibatch, random stream, carried
 * state, best so far) and the history.
 *
 * @throws {UsageError} when the checkpoint is not resumable (no position
 *   saved) or holds another kind of model.
 *
 * @example A directory that is not a run
 * ```ts
 * import { rejects } from "node:assert";
 * import { UsageError } from "../errors.ts";
 * import { loadResumableRun } from "./run.ts";
 * const dir = await Deno.makeTempDir();
 * await rejects(loadResumableRun(dir), UsageError);
 * await Deno.remove(dir);
 * ```
 */
export async function loadResumableRun(dir: string): Promise<ResumableRun> {
  const run = await loadResumable(dir, LM_RUN);
  return {
    ...trainedFrom(run),
    optimizer: run.optimizer,
    optimizerName: run.optimizerName,
    position: run.position,
    history: run.history as (LmEpochMetrics & HistoryRow)[],
  };
}
