/**
 * A training run's directory, for any {@linkcode TrainableModel}: the last
 * checkpoint and the best-on-validation one (each written atomically), the
 * metrics history as JSON lines and SVG plots; and loading a checkpoint back,
 * to use or to resume, with the model kind checked.
 *
 * ```
 * DIR/checkpoint/      the last state: weights, optimizer, config, vocab, position
 * DIR/best/            the epoch with the best monitored validation metric
 * DIR/metrics.jsonl    one object per epoch
 * DIR/<name>.svg       plots drawn from the history (loss.svg by default)
 * ```
 *
 * Nothing is written until the first save, so a run that fails before its
 * first epoch (or checkpoint) leaves the directory as it found it.
 *
 * @module
 */
import type { Optimizer, Tensor2D } from "../ops/tensors.ts";
import { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import {
  appendJsonLine,
  DEFAULT_KIND,
  type JsonValue,
  loadCheckpoint,
  type LoadedCheckpoint,
  readManifest,
  saveCheckpoint,
} from "./checkpoint.ts";
import { metricPlotSvg } from "./plot.ts";
import { checkRunLock, LOCK_FILE } from "./run_lock.ts";
import type { FitPosition } from "./fit.ts";
import type { OptimizerName } from "./train.ts";
import { captureOptimizer, type OptimizerJson, restoreOptimizer } from "./optimizer_state.ts";
import type { State } from "../cells/types.ts";
import type { TrainableModel } from "./model.ts";
import { isRecord } from "./_json.ts";

/** Which checkpoint of a run directory to read. */
export type CheckpointChoice = "best" | "last";

/** One row of a run's history: an epoch's metrics as the caller names them. */
export type HistoryRow = { epoch: number } & Record<string, unknown>;

/** Draws one plot file from the history so far; undefined to skip it. */
export type PlotDrawer = (
  history: readonly HistoryRow[],
) => string | undefined | Promise<string | undefined>;

/** The files of a run directory this library writes (what `overwrite` replaces). */
const RUN_FILES =
  /^(checkpoint|best|metrics\.jsonl|split\.json|report\.txt|bleu\.txt|[\w-]+\.svg|\.[\w-]+\.svg\.tmp)((\.(old|tmp)-[0-9a-f]{8})?)$/;

/**
 * The checkpoint directory a path names: `DIR/best` or `DIR/checkpoint` of a
 * run directory (`best` when asked for and present, else the last), or the
 * path itself when it is a checkpoint.
 *
 * @param which "best" falls back to the last checkpoint when the run has no best.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(await resolveCheckpointDir("no/such/run"), "no/such/run");
 * ```
 */
export async function resolveCheckpointDir(
  dir: string,
  which: CheckpointChoice = "last",
): Promise<string> {
  // A checkpoint with a damaged manifest still counts, so that loading it
  // reports the damage rather than a missing checkpoint.
  const has = async (path: string) => {
    try {
      await readManifest(path);
      return true;
    } catch {
      return await exists(`${path}/manifest.json`);
    }
  };
  if (which === "best" && await has(`${dir}/best`)) return `${dir}/best`;
  if (await has(`${dir}/checkpoint`)) return `${dir}/checkpoint`;
  return dir;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** Options of {@linkcode checkRunDir}. */
export interface CheckRunDirOptions {
  /**
   * "new" refuses a directory that is not empty; "overwrite" allows one (its
   * run files are replaced at the first save); "resume" expects the run. @default "new"
   */
  mode?: "new" | "overwrite" | "resume";
  /**
   * The model kind the caller trains: the refusal of a non-empty directory
   * then says what would work there (`--resume` only for a run of this kind).
   */
  kind?: string;
  /** Appended to the refusal of a non-empty directory instead of the advice from `kind`. */
  hint?: string;
}

/**
 * Checks, before any work, that a run directory can be made and written: no
 * other live run holds its lock, it is a directory or does not exist yet, its
 * nearest existing ancestor is a writable directory, and (mode "new") it
 * holds nothing yet. Writes nothing that stays.
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
export async function checkRunDir(dir: string, options: CheckRunDirOptions = {}): Promise<void> {
  if (dir === "") throw new UsageError(`Cannot write run directory "": expected a directory path`);
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
  const exact = path === (dir.replace(/\/+$/, "") || "/");
  if (exact) await checkRunLock(dir);
  if ((options.mode ?? "new") === "new" && exact) {
    const held = await describeRun(dir);
    if (held) {
      const hint = options.hint ?? (options.kind ? adviceFor(dir, held, options.kind) : undefined);
      throw new UsageError(
        `Cannot train into "${dir}": it holds ${held.text}, expected a new or empty directory` +
          (hint ? `; ${hint}` : ""),
      );
    }
  }
  try {
    const probe = await Deno.makeTempFile({ dir: path, prefix: ".write-check-" });
    await Deno.remove(probe);
  } catch (error) {
    throw new UsageError(`Cannot write run directory "${dir}": ${(error as Error).message}`);
  }
}

/** What the user can do about a directory that holds something. */
function adviceFor(dir: string, held: { kind?: string }, kind: string): string {
  if (held.kind === kind) {
    return `continue it with --resume ${dir}, replace it with --overwrite, or choose another --out`;
  }
  if (held.kind !== undefined) {
    return `a ${held.kind} run cannot be resumed as a ${kind} run: replace it with --overwrite ` +
      `or choose another --out`;
  }
  return "it is not a run to resume: choose another --out, or pass --overwrite " +
    "(which removes only the files a run writes)";
}

/** What a non-empty directory holds, in words (and the run's kind); undefined when empty. */
async function describeRun(dir: string): Promise<{ text: string; kind?: string } | undefined> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name !== LOCK_FILE) names.push(entry.name); // a stale lock: checked above
  }
  if (names.length === 0) return undefined;
  try {
    const manifest = await readManifest(`${dir}/checkpoint`);
    const epochs = savedHistory(manifest.progress).length;
    const kind = manifest.kind ?? DEFAULT_KIND;
    return { text: `another run (a ${kind} model, ${epochs} epoch(s) done)`, kind };
  } catch {
    return {
      text: `${names.length} file(s) (${names.slice(0, 3).join(", ")}${
        names.length > 3 ? ", ..." : ""
      })`,
    };
  }
}

/** Options of {@linkcode RunWriter.open}. */
export interface RunWriterOptions<C = unknown> {
  /**
   * Everything needed to rebuild the run: plain JSON (model, data and training
   * settings), of the task's config type `C`; `loadModel<M, C>` reads it back.
   */
  config: C;
  /** The model kind saved in every checkpoint. */
  kind: string;
  /** The vocabulary or other data description saved with each checkpoint (JSON). @default null */
  vocab?: unknown;
  /** A resumed run's history: appended to rather than started afresh. */
  history?: readonly HistoryRow[];
  /** Replace the run files already in the directory at the first save. @default false */
  overwrite?: boolean;
  /**
   * Plot files redrawn after each epoch, by file name.
   * @default `loss.svg` of `trainLoss` and, where present, `validLoss`
   */
  plots?: Record<string, PlotDrawer>;
}

/** What {@linkcode RunWriter.save} is told besides the position. */
export interface SaveOptions {
  /** The finished epoch's row for metrics.jsonl and the plots (none mid-epoch). */
  row?: HistoryRow;
  /** Also write this state as the run's best checkpoint. */
  best?: boolean;
}

/**
 * Writes a run directory epoch by epoch. Nothing is written until the first
 * {@linkcode RunWriter.save}.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * const dir = await Deno.makeTempDir();
 * const run = RunWriter.open(`${dir}/run`, { config: { note: "example" }, kind: "toy" });
 * ok(run.checkpointDir.endsWith("/checkpoint"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class RunWriter<C = unknown> {
  /** Where the last checkpoint is. */
  readonly checkpointDir: string;
  /** Where the best checkpoint is. */
  readonly bestDir: string;
  readonly #history: HistoryRow[] = [];
  readonly #options: RunWriterOptions<C>;
  #claimed: boolean;

  private constructor(readonly dir: string, options: RunWriterOptions<C>) {
    this.checkpointDir = `${dir}/checkpoint`;
    this.bestDir = `${dir}/best`;
    this.#options = options;
    this.#claimed = options.history !== undefined;
    this.#history.push(...(options.history ?? []));
  }

  /**
   * A writer for `dir`; a resumed run (given its `history`) appends to it.
   * Check the directory first with {@linkcode checkRunDir}.
   */
  static open<C>(dir: string, options: RunWriterOptions<C>): RunWriter<C> {
    return new RunWriter(dir, options);
  }

  /** The run's config, as every checkpoint saves it. */
  get config(): C {
    return this.#options.config;
  }

  /** The rows of every epoch saved so far. */
  get history(): readonly HistoryRow[] {
    return this.#history;
  }

  /** Whether this writer (or the run it resumed) has written a checkpoint. */
  get written(): boolean {
    return this.#claimed;
  }

  /**
   * Saves a checkpoint (atomically) at `position`; when an epoch just ended,
   * also appends its row, redraws the plots and, when asked, writes the best.
   *
   * @throws {UsageError} when the directory cannot be written.
   */
  async save<B>(
    model: TrainableModel<B>,
    optimizer: { optimizer: Optimizer; name: OptimizerName },
    position: FitPosition,
    options: SaveOptions = {},
  ): Promise<void> {
    await this.#claim();
    if (options.row) this.#history.push(finiteOrNull(options.row));
    const weights = model.namedWeights();
    (position.state ?? []).forEach((s, i) => {
      weights[`carry/${i}/h`] = s.h;
      if (s.c) weights[`carry/${i}/c`] = s.c;
    });
    const saved = await captureOptimizer(optimizer.optimizer, optimizer.name);
    const { state: _carried, ...where } = position;
    const progress: RunProgressRecord = {
      position: where,
      optimizer: saved.json,
      history: this.#history,
    };
    const checkpoint = {
      kind: this.#options.kind,
      weights,
      optimizer: saved.tensors,
      config: this.#options.config,
      vocab: this.#options.vocab ?? null,
      progress,
    };
    try {
      await saveCheckpoint(this.checkpointDir, checkpoint);
      if (options.best) await saveCheckpoint(this.bestDir, checkpoint);
    } finally {
      tf.dispose(
        Object.entries(weights).filter(([k]) => !k.startsWith("carry/")).map(([, t]) => t),
      );
      saved.dispose();
    }
    if (!options.row) return;
    await appendJsonLine(`${this.dir}/metrics.jsonl`, this.#history.at(-1));
    const plots = this.#options.plots ?? { "loss.svg": lossPlot };
    for (const [name, draw] of Object.entries(plots)) {
      const svg = await draw(this.#history);
      if (svg === undefined) continue;
      const temporary = `${this.dir}/.${name}.tmp`;
      await Deno.writeTextFile(temporary, svg);
      await Deno.rename(temporary, `${this.dir}/${name}`);
    }
  }

  /** The first write of a fresh run: the directory, an empty history, old run files gone. */
  async #claim(): Promise<void> {
    if (this.#claimed) return;
    try {
      await Deno.mkdir(this.dir, { recursive: true });
      if (this.#options.overwrite) {
        for await (const entry of Deno.readDir(this.dir)) {
          if (RUN_FILES.test(entry.name)) {
            await Deno.remove(`${this.dir}/${entry.name}`, { recursive: true });
          }
        }
      }
      await Deno.writeTextFile(`${this.dir}/metrics.jsonl`, "");
    } catch (error) {
      throw new UsageError(`Cannot write run directory "${this.dir}": ${(error as Error).message}`);
    }
    this.#claimed = true;
  }
}

/** The default plot: train loss and, where the rows have it, `validLoss`. */
function lossPlot(history: readonly HistoryRow[]): Promise<string | undefined> | undefined {
  const drawable = history.filter((m) => Number.isFinite(m.trainLoss));
  if (drawable.length === 0) return undefined;
  return metricPlotSvg(
    drawable,
    [{ key: "trainLoss", label: "train" }, { key: "validLoss", label: "valid" }],
    { yLabel: "loss" },
  );
}

/** The row with every non-finite number (an overflowed metric) as null, which JSON can hold. */
function finiteOrNull<T extends Record<string, unknown>>(row: T): T {
  return Object.fromEntries(
    Object.entries(row).map((
      [k, v],
    ) => [k, typeof v === "number" && !Number.isFinite(v) ? null : v]),
  ) as T;
}

/**
 * A checkpoint read back: the JSON parts and the model tensors, kind checked.
 * `C` is the task's run config type (see {@linkcode LoadModelOptions.config}).
 */
export interface CheckpointContents<C = JsonValue> {
  /** The checkpoint directory it came from. */
  path: string;
  /** The model kind it holds. */
  kind: string;
  /** The run config as saved, as the task reads it. */
  config: C;
  /** The vocabulary as saved. */
  vocab: JsonValue;
  /** Where training stood. */
  progress: JsonValue;
}

/**
 * What a run's checkpoint saves as its progress: where training stood (the
 * carried state goes with the tensors), the optimizer's JSON half, and the
 * rows of the epochs done.
 */
export interface RunProgressRecord {
  /** The position without its state; checkpoints older than the model-agnostic core count `tokens`. */
  position: Omit<FitPosition, "state"> & { tokens?: number };
  /** The optimizer's name, rate and Adam's running powers. */
  optimizer: OptimizerJson;
  /** One row per finished epoch (absent in the oldest checkpoints). */
  history?: HistoryRow[];
}

/**
 * The epoch rows a checkpoint's progress holds: a run's history as its
 * {@linkcode RunWriter} saved it (none for a checkpoint without a run's progress).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(savedHistory({ position: {}, optimizer: {}, history: [{ epoch: 1 }] }).length, 1);
 * strictEqual(savedHistory(null).length, 0);
 * ```
 */
export function savedHistory(progress: unknown): HistoryRow[] {
  return isRunProgress(progress) ? progress.history ?? [] : [];
}

/** Whether a checkpoint's progress is a run's: a position and an optimizer. */
function isRunProgress(json: unknown): json is RunProgressRecord {
  return isRecord(json) && isRecord(json.position) && isRecord(json.optimizer) &&
    (json.history === undefined || Array.isArray(json.history));
}

/** Builds a model of the caller's kind from a checkpoint's config (weights are set after). */
export type ModelFactory<M, C = JsonValue> = (config: C, checkpoint: CheckpointContents<C>) => M;

/** A model loaded from a checkpoint, with what was saved beside it. */
export interface LoadedModel<M, C = JsonValue> extends CheckpointContents<C> {
  /** The model, weights loaded. */
  model: M;
}

/** Options of {@linkcode loadModel} and {@linkcode loadResumable}. */
export interface LoadModelOptions<M, C = JsonValue> {
  /** The kind expected; another kind is a UsageError. */
  kind: string;
  /** Makes the model from the saved config; may throw UsageError for a bad config. */
  build: ModelFactory<M, C>;
  /**
   * Reads the saved config JSON as the task's config type `C`, throwing a
   * UsageError for one it cannot use. The default takes the JSON as it is:
   * the config was written by the same task's {@linkcode RunWriter}, and the
   * task's `build` checks what it reads (for example `classifierConfig()`).
   */
  config?: (json: JsonValue, path: string) => C;
  /** For a run directory: its best or last checkpoint. @default "last" */
  which?: CheckpointChoice;
}

/**
 * Loads a model from a run directory or a checkpoint directory, on the active
 * backend, checking the kind and setting every weight.
 *
 * @throws {UsageError} when it is not a checkpoint, holds another kind
 *   ("Cannot load checkpoint DIR: it holds a classifier model, expected lm"),
 *   or its weights do not fit the model the factory built.
 *
 * @example A directory that is not a checkpoint
 * ```ts
 * import { rejects } from "node:assert";
 * import { UsageError } from "../errors.ts";
 * import { loadModel } from "./run.ts";
 * const dir = await Deno.makeTempDir();
 * await rejects(loadModel(dir, { kind: "lm", build: () => { throw new Error("not reached"); } }), UsageError);
 * await Deno.remove(dir);
 * ```
 */
export async function loadModel<M extends TrainableModel<unknown>, C = JsonValue>(
  dir: string,
  options: LoadModelOptions<M, C>,
): Promise<LoadedModel<M, C>> {
  const path = await resolveCheckpointDir(dir, options.which);
  const loaded = await loadCheckpoint(path);
  try {
    return buildFrom(loaded, options);
  } finally {
    tf.dispose([...Object.values(loaded.weights), ...Object.values(loaded.optimizer)]);
  }
}

/**
 * Refuses a checkpoint of another kind, before anything is built.
 *
 * @example Another kind of model
 * ```ts
 * import { throws } from "node:assert";
 * import { checkKind } from "./run.ts";
 * checkKind({ kind: "lm", path: "runs/a" }, "lm");
 * throws(() => checkKind({ kind: "lm", path: "runs/a" }, "classifier"), /holds a lm model, expected classifier/);
 * ```
 */
export function checkKind(loaded: { kind: string; path: string }, expected: string): void {
  if (loaded.kind !== expected) {
    throw new UsageError(
      `Cannot load checkpoint ${loaded.path}: it holds a ${loaded.kind} model, expected ${expected}`,
    );
  }
}

/** The model of a loaded checkpoint; the checkpoint's tensors stay the caller's. */
function buildFrom<M extends TrainableModel<unknown>, C>(
  loaded: LoadedCheckpoint,
  options: LoadModelOptions<M, C>,
): LoadedModel<M, C> {
  checkKind(loaded, options.kind);
  const { path, kind, vocab, progress } = loaded;
  const config = (options.config ?? savedAsWritten<C>)(loaded.config, path);
  const contents: CheckpointContents<C> = { path, kind, config, vocab, progress };
  const model = options.build(config, contents);
  const weights = Object.fromEntries(
    Object.entries(loaded.weights).filter(([key]) => !key.startsWith("carry/")),
  );
  try {
    model.setNamedWeights(weights);
  } catch (error) {
    model.dispose();
    throw new UsageError(`Cannot load "${path}": ${(error as Error).message}`);
  }
  return { ...contents, model };
}

/**
 * Refuses to resume from a checkpoint folder (`RUN/checkpoint`, `RUN/best`):
 * a resumed run writes into the folder it is given, so that must be the run
 * folder, which the message names.
 *
 * @throws {UsageError} naming the run folder to use instead.
 *
 * @example
 * ```ts
 * import { rejects } from "node:assert";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/checkpoint`);
 * await Deno.writeTextFile(`${dir}/checkpoint/manifest.json`, "{}");
 * await rejects(() => checkResumableRun(`${dir}/checkpoint`), /--resume /);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function checkResumableRun(dir: string): Promise<void> {
  if (!await exists(`${dir}/manifest.json`)) return;
  const trimmed = dir.replace(/\/+$/, "");
  const parent = trimmed.includes("/") ? trimmed.slice(0, trimmed.lastIndexOf("/")) || "/" : ".";
  throw new UsageError(
    `Cannot resume from "${dir}": it is a checkpoint folder, not a run folder (a resumed run ` +
      `writes its checkpoints, metrics and plots beside it); resume the run: --resume ${parent}`,
  );
}

/**
 * The saved config as the task's type: the one place a run config's JSON
 * meets its TypeScript type. Its writer was the same task's `RunWriter<C>`.
 */
function savedAsWritten<C>(json: JsonValue): C {
  return json as C;
}

/** Everything needed to continue a run where its checkpoint left it. */
export interface ResumableCheckpoint<M, C = JsonValue> extends LoadedModel<M, C> {
  /** The optimizer with its saved slots. */
  optimizer: Optimizer;
  /** The optimizer's name. */
  optimizerName: OptimizerName;
  /** Where to continue; its `state` tensors are the caller's. */
  position: FitPosition;
  /** The rows of the epochs done. */
  history: HistoryRow[];
}

/**
 * Loads a run to continue it: the model (from the caller's factory), the
 * optimizer in its saved state, the position (epoch, minibatch, random
 * stream, carried state, best so far) and the history. Always reads the last
 * checkpoint of a run directory.
 *
 * @throws {UsageError} when the checkpoint is not resumable (no position
 *   saved), holds another kind, or does not fit the model.
 *
 * @example A directory that is not a run
 * ```ts
 * import { rejects } from "node:assert";
 * import { UsageError } from "../errors.ts";
 * import { loadResumable } from "./run.ts";
 * const dir = await Deno.makeTempDir();
 * await rejects(loadResumable(dir, { kind: "lm", build: () => { throw new Error("not reached"); } }), UsageError);
 * await Deno.remove(dir);
 * ```
 */
export async function loadResumable<M extends TrainableModel<unknown>, C = JsonValue>(
  dir: string,
  options: LoadModelOptions<M, C>,
): Promise<ResumableCheckpoint<M, C>> {
  await checkResumableRun(dir);
  const path = await resolveCheckpointDir(dir, "last");
  const loaded = await loadCheckpoint(path);
  try {
    checkKind(loaded, options.kind);
    const progress = loaded.progress;
    if (!isRunProgress(progress)) {
      throw new UsageError(`Cannot resume from "${path}": it holds no training position`);
    }
    const trained = buildFrom(loaded, options);
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
      record[match[2] as "h" | "c"] = tf.clone(tensor) as Tensor2D;
    }
    // Checkpoints written before the core was model-agnostic count `tokens`.
    const { tokens, ...saved } = progress.position;
    const position: FitPosition = { ...saved, items: saved.items ?? tokens ?? 0 };
    if (carried.length > 0) position.state = carried;
    return {
      ...trained,
      optimizer,
      optimizerName: progress.optimizer.name,
      position,
      history: progress.history ?? [],
    };
  } finally {
    tf.dispose([...Object.values(loaded.weights), ...Object.values(loaded.optimizer)]);
  }
}
