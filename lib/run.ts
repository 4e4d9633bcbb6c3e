/**
 * A training run's directory: the latest checkpoint (written atomically), the
 * metrics history as JSON lines and a perplexity plot.
 *
 * ```
 * DIR/checkpoint/      weights, optimizer state, config, vocabulary, progress
 * DIR/metrics.jsonl    one object per epoch
 * DIR/perplexity.svg   train and validation perplexity per epoch
 * ```
 *
 * @module
 */
import { tf } from "./tf.ts";
import { UsageError } from "./errors.ts";
import { appendJsonLine, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { perplexityPlotSvg } from "./plot.ts";
import { LanguageModel, type ModelConfig, modelConfig } from "./model.ts";
import { Vocab } from "./corpus/vocab.ts";
import type { Normalization, TokenKind } from "./corpus/tokenize.ts";
import type { EpochMetrics } from "./fit.ts";

/** The checkpoint inside a run directory, or the directory itself when it is a checkpoint. */
export async function resolveCheckpointDir(dir: string): Promise<string> {
  try {
    await Deno.stat(`${dir}/checkpoint/manifest.json`);
    return `${dir}/checkpoint`;
  } catch {
    return dir;
  }
}

/**
 * Writes a run directory epoch by epoch.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * const dir = await Deno.makeTempDir();
 * const run = await RunWriter.create(dir, { note: "example" });
 * ok(run.checkpointDir.endsWith("/checkpoint"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class RunWriter {
  /** Where the latest checkpoint is. */
  readonly checkpointDir: string;
  readonly #history: (EpochMetrics & Record<string, unknown>)[] = [];

  private constructor(readonly dir: string, readonly config: unknown) {
    this.checkpointDir = `${dir}/checkpoint`;
  }

  /**
   * Makes (or reuses) the run directory and starts a fresh metrics history.
   *
   * @throws {UsageError} when the directory cannot be written.
   */
  static async create(dir: string, config: unknown): Promise<RunWriter> {
    try {
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(`${dir}/metrics.jsonl`, "");
    } catch (error) {
      throw new UsageError(
        `Cannot write run directory "${dir}": ${(error as Error).message}`,
      );
    }
    return new RunWriter(dir, config);
  }

  /** The metrics of every epoch saved so far. */
  get history(): readonly EpochMetrics[] {
    return this.#history;
  }

  /**
   * Saves the checkpoint (atomically), appends the epoch's metrics and
   * redraws the plot.
   */
  async saveEpoch(
    model: LanguageModel,
    optimizer: tf.Optimizer,
    vocab: Vocab,
    metrics: EpochMetrics & Record<string, unknown>,
  ): Promise<void> {
    this.#history.push(metrics);
    const weights = model.namedWeights();
    const optimizerWeights: Record<string, tf.Tensor> = {};
    const saved = await optimizer.getWeights();
    // The accumulators are the optimizer's own variables, but the iteration
    // count comes back as a new scalar, freed below.
    const fresh = saved.filter(({ name }) => name === "iter").map(({ tensor }) => tensor);
    saved.forEach(({ tensor }, i) => {
      optimizerWeights[String(i).padStart(4, "0")] = tensor;
    });
    try {
      await saveCheckpoint(this.checkpointDir, {
        weights,
        optimizer: optimizerWeights,
        config: this.config,
        vocab: vocab.toJSON(),
        progress: { epoch: metrics.epoch, history: this.#history },
      });
    } finally {
      tf.dispose([...Object.values(weights), ...fresh]);
    }
    await appendJsonLine(`${this.dir}/metrics.jsonl`, metrics);
    const svg = perplexityPlotSvg(this.#history);
    const temporary = `${this.dir}/.perplexity.svg.tmp`;
    await Deno.writeTextFile(temporary, svg);
    await Deno.rename(temporary, `${this.dir}/perplexity.svg`);
  }
}

/** A model loaded from a checkpoint, with what it was trained with. */
export interface TrainedModel {
  model: LanguageModel;
  vocab: Vocab;
  /** The run's config as saved: `{ model, corpus, train }`. */
  config: RunConfig;
  /** The checkpoint directory it came from. */
  path: string;
}

/** What a run saves as its config. */
export interface RunConfig {
  model: ModelConfig;
  corpus: {
    source: string;
    token: TokenKind;
    normalize: Normalization;
    minFreq: number;
    validFraction: number;
  };
  train: Record<string, unknown> & { batchSize: number; numSteps: number };
}

/**
 * Loads a model from a run directory or a checkpoint directory, on the
 * active backend (any backend loads any checkpoint).
 *
 * @throws {UsageError} when the directory is not a checkpoint of this tool, or
 *   its config, vocabulary and weights do not fit together (naming both values).
 */
export async function loadTrainedModel(dir: string): Promise<TrainedModel> {
  const path = await resolveCheckpointDir(dir);
  const loaded = await loadCheckpoint(path);
  try {
    const config = loaded.config as unknown as RunConfig;
    if (!config || typeof config !== "object" || !config.model || !config.corpus) {
      throw new UsageError(`Cannot load "${path}": its config has no model and corpus sections`);
    }
    const vocab = Vocab.fromJSON(loaded.vocab);
    const modelSettings = modelConfig(config.model);
    if (vocab.size !== modelSettings.vocabSize) {
      throw new UsageError(
        `Cannot load "${path}": its vocabulary has ${vocab.size} tokens but the model ` +
          `expects ${modelSettings.vocabSize}`,
      );
    }
    const model = new LanguageModel(modelSettings);
    try {
      model.setNamedWeights(loaded.weights);
    } catch (error) {
      model.dispose();
      throw new UsageError(`Cannot load "${path}": ${(error as Error).message}`);
    }
    return { model, vocab, config: { ...config, model: modelSettings }, path };
  } finally {
    tf.dispose([...Object.values(loaded.weights), ...Object.values(loaded.optimizer)]);
  }
}
