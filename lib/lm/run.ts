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
import { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import {
  appendJsonLine,
  loadCheckpoint,
  type LoadedCheckpoint,
  saveCheckpoint,
} from "../training/checkpoint.ts";
import { perplexityPlotSvg } from "../training/plot.ts";
import { LanguageModel, type ModelConfig, modelConfig } from "./model.ts";
import { Vocab } from "../corpus/vocab.ts";
import type { Normalization, TokenKind } from "../corpus/tokenize.ts";
import type { EpochMetrics, FitPosition } from "../training/fit.ts";
import type { OptimizerName } from "../training/train.ts";
import {
  captureOptimizer,
  type OptimizerJson,
  restoreOptimizer,
} from "../training/optimizer_state.ts";
import type { State } from "../cells/types.ts";

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
   * Makes (or reuses) the run directory. A fresh run starts a new metrics
   * history; a resumed one (given its `history`) appends to it.
   *
   * @throws {UsageError} when the directory cannot be written.
   */
  static async create(
    dir: string,
    config: unknown,
    history?: readonly EpochMetrics[],
  ): Promise<RunWriter> {
    try {
      await Deno.mkdir(dir, { recursive: true });
      if (!history) await Deno.writeTextFile(`${dir}/metrics.jsonl`, "");
    } catch (error) {
      throw new UsageError(
        `Cannot write run directory "${dir}": ${(error as Error).message}`,
      );
    }
    const run = new RunWriter(dir, config);
    run.#history.push(...(history ?? []) as (EpochMetrics & Record<string, unknown>)[]);
    return run;
  }

  /** The metrics of every epoch saved so far. */
  get history(): readonly EpochMetrics[] {
    return this.#history;
  }

  /**
   * Saves a checkpoint (atomically) at `position`; when an epoch just ended,
   * also appends its metrics and redraws the plot.
   */
  async save(
    model: LanguageModel,
    optimizer: { optimizer: tf.Optimizer; name: OptimizerName },
    vocab: Vocab,
    position: FitPosition,
    metrics?: EpochMetrics & Record<string, unknown>,
  ): Promise<void> {
    if (metrics) this.#history.push(finiteOrNull(metrics));
    const weights = model.namedWeights();
    (position.state ?? []).forEach((s, i) => {
      weights[`carry/${i}/h`] = s.h;
      if (s.c) weights[`carry/${i}/c`] = s.c;
    });
    const saved = await captureOptimizer(optimizer.optimizer, optimizer.name);
    const { state: _carried, ...where } = position;
    try {
      await saveCheckpoint(this.checkpointDir, {
        weights,
        optimizer: saved.tensors,
        config: this.config,
        vocab: vocab.toJSON(),
        progress: { position: where, optimizer: saved.json, history: this.#history },
      });
    } finally {
      tf.dispose(
        Object.entries(weights).filter(([k]) => !k.startsWith("carry/")).map(([, t]) => t),
      );
      saved.dispose();
    }
    if (!metrics) return;
    await appendJsonLine(`${this.dir}/metrics.jsonl`, this.#history.at(-1));
    // An overflowed (null) perplexity cannot be drawn: plot the epochs that have one.
    const drawable = this.#history
      .filter((m) => Number.isFinite(m.trainPerplexity))
      .map((m) => ({ ...m, validPerplexity: m.validPerplexity ?? undefined }));
    if (drawable.length === 0) return;
    const svg = perplexityPlotSvg(drawable);
    const temporary = `${this.dir}/.perplexity.svg.tmp`;
    await Deno.writeTextFile(temporary, svg);
    await Deno.rename(temporary, `${this.dir}/perplexity.svg`);
  }
}

/**
 * Checks, before any work, that a run directory can be made and written:
 * it is a directory or does not exist yet, and its nearest existing ancestor
 * is a writable directory. Writes nothing.
 *
 * @throws {UsageError} naming the directory and what is in the way.
 *
 * @example
 * ```ts
 * import { rejects } from "node:assert";
 * const file = await Deno.makeTempFile();
 * await rejects(() => checkRunDir(`${file}/run`));
 * await Deno.remove(file);
 * ```
 */
export async function checkRunDir(dir: string): Promise<void> {
  let path = dir.replace(/\/+$/, "") || "/";
  for (;;) {
    let info: Deno.FileInfo | undefined;
    try {
      info = await Deno.stat(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new UsageError(`Cannot write run directory "${dir}": ${(error as Error).message}`);
      }
    }
    if (info && !info.isDirectory) {
      throw new UsageError(`Cannot write run directory "${dir}": "${path}" is not a directory`);
    }
    if (info) break;
    const parent = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
    if (parent === path) break;
    path = parent;
  }
  try {
    const probe = await Deno.makeTempFile({ dir: path, prefix: ".write-check-" });
    await Deno.remove(probe);
  } catch (error) {
    throw new UsageError(`Cannot write run directory "${dir}": ${(error as Error).message}`);
  }
}

/** The metrics with every non-finite number (an overflowed perplexity) as null, which JSON can hold. */
function finiteOrNull<T extends Record<string, unknown>>(metrics: T): T {
  return Object.fromEntries(
    Object.entries(metrics).map((
      [k, v],
    ) => [k, typeof v === "number" && !Number.isFinite(v) ? null : v]),
  ) as T;
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
    return buildTrained(loaded, path);
  } finally {
    tf.dispose([...Object.values(loaded.weights), ...Object.values(loaded.optimizer)]);
  }
}

/** The model of a loaded checkpoint; the checkpoint's tensors stay the caller's. */
function buildTrained(loaded: LoadedCheckpoint, path: string): TrainedModel {
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
  const weights = Object.fromEntries(
    Object.entries(loaded.weights).filter(([key]) => !key.startsWith("carry/")),
  );
  try {
    model.setNamedWeights(weights);
  } catch (error) {
    model.dispose();
    throw new UsageError(`Cannot load "${path}": ${(error as Error).message}`);
  }
  return { model, vocab, config: { ...config, model: modelSettings }, path };
}

/** Everything needed to continue a run where its checkpoint left it. */
export interface ResumableRun extends TrainedModel {
  optimizer: tf.Optimizer;
  optimizerName: OptimizerName;
  /** Where to continue; its `state` tensors are the caller's. */
  position: FitPosition;
  history: EpochMetrics[];
}

/**
 * Loads a run to continue it: the model, the optimizer in its saved state,
 * the position (epoch, minibatch, random stream, carried state) and history.
 *
 * @throws {UsageError} when the checkpoint is not resumable (no position saved).
 */
export async function loadResumableRun(dir: string): Promise<ResumableRun> {
  const path = await resolveCheckpointDir(dir);
  const loaded = await loadCheckpoint(path);
  try {
    const progress = loaded.progress as unknown as {
      position?: Omit<FitPosition, "state">;
      optimizer?: OptimizerJson;
      history?: EpochMetrics[];
    };
    if (!progress?.position || !progress.optimizer) {
      throw new UsageError(`Cannot resume from "${path}": it holds no training position`);
    }
    const trained = buildTrained(loaded, path);
    const optimizer = await restoreOptimizer(progress.optimizer, loaded.optimizer)
      .catch((error) => {
        trained.model.dispose();
        throw error;
      });
    const carried: State[] = [];
    for (const [key, tensor] of Object.entries(loaded.weights)) {
      const match = /^carry\/(\d+)\/(h|c)$/.exec(key);
      if (!match) continue;
      const record = carried[Number(match[1])] ??= {} as State;
      record[match[2] as "h" | "c"] = tf.clone(tensor) as tf.Tensor2D;
    }
    return {
      ...trained,
      optimizer,
      optimizerName: progress.optimizer.name,
      position: { ...progress.position, state: carried.length > 0 ? carried : undefined },
      history: progress.history ?? [],
    };
  } finally {
    tf.dispose([...Object.values(loaded.weights), ...Object.values(loaded.optimizer)]);
  }
}
