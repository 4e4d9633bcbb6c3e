/**
 * Checkpoints: a directory that holds everything needed to resume or to run a
 * model, readable on any backend.
 *
 * ```
 * checkpoint/
 *   manifest.json   format name and version, the model kind, createdAt, the caller's config,
 *                   vocab and progress (JSON), one entry per tensor (name,
 *                   group, shape, dtype, byteOffset, byteLength), the size and
 *                   SHA-256 of weights.bin
 *   weights.bin     every tensor, in tfjs-core's io.encodeWeights layout
 *                   (little-endian), model weights then optimizer slots
 * ```
 *
 * Saving is atomic: the files go into a temporary sibling directory
 * (`<dir>.tmp-<tag>`), are fsynced, and the directory is renamed over `dir`
 * (an existing `dir` is first renamed to `<dir>.old-<tag>`, then removed). A
 * crash at any moment leaves a complete checkpoint at `dir`, or, between the
 * two renames, at `<dir>.old-<tag>`, which {@linkcode loadCheckpoint} and
 * {@linkcode readManifest} use when `dir` is missing. One writer per path.
 *
 * @module
 */
import type { Tensor } from "../ops/tensors.ts";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import { jsonProblem, type JsonValue } from "./_json.ts";
import { findLeftover, replaceDirectory } from "./_atomic_dir.ts";
import {
  checkManifest,
  CHECKPOINT_FORMAT,
  CHECKPOINT_FORMAT_VERSION,
  type CheckpointManifest,
  DEFAULT_KIND,
  type WeightDtype,
  type WeightEntry,
  type WeightGroup,
} from "./_checkpoint_manifest.ts";

export { CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_VERSION, DEFAULT_KIND };
export type { CheckpointManifest, JsonValue, WeightDtype, WeightEntry, WeightGroup };

const MANIFEST = "manifest.json";
const WEIGHTS = "weights.bin";

/** What {@linkcode saveCheckpoint} writes. Tensors stay the caller's. */
export interface CheckpointInput {
  /** The model kind (`TrainableModel.kind`: "lm", "classifier"...). @default "lm" */
  kind?: string;
  /** The model's tensors by name (e.g. `layer0/W_xh`). */
  weights: Record<string, Tensor>;
  /** An optimizer's slot tensors by name (e.g. `adam/m/layer0/W_xh`). @default {} */
  optimizer?: Record<string, Tensor>;
  /** Model and training settings: JSON, no NaN, no class instances. */
  config: unknown;
  /** The vocabulary: JSON. */
  vocab: unknown;
  /** Where training stands: epoch, step, rng state... JSON. */
  progress: unknown;
}

/** What {@linkcode loadCheckpoint} returns. The tensors are the caller's to dispose. */
export interface LoadedCheckpoint {
  /** The model kind it holds; "lm" for a checkpoint written before kinds were recorded. */
  kind: string;
  /** The model's weights by name. */
  weights: Record<string, Tensor>;
  /** The optimizer's slots by name. */
  optimizer: Record<string, Tensor>;
  /** The run config as saved. */
  config: JsonValue;
  /** The vocabulary as saved. */
  vocab: JsonValue;
  /** Where training stood. */
  progress: JsonValue;
  /** The manifest read from disk. */
  manifest: CheckpointManifest;
  /** Where it was read from: `dir`, or the `.old-` sibling a crash left. */
  path: string;
}

/** Options of {@linkcode loadCheckpoint}. */
export interface LoadCheckpointOptions {
  /** Model weight names that must be there; a missing one is an error. @default [] */
  expectWeights?: readonly string[];
}

/**
 * Saves a checkpoint directory atomically (see the module doc), replacing an
 * earlier checkpoint at `dir`. Reads tensors with `await t.data()`.
 *
 * @param dir the checkpoint directory; its parent is created when missing.
 * @param checkpoint the tensors and JSON to save.
 * @returns the manifest written.
 * @throws {UsageError} when `dir` cannot be written (permissions, a file in
 *   the way) or holds something other than a checkpoint; nothing is left half-written.
 * @throws {TypeError} for a value JSON cannot hold or a disposed tensor.
 *
 * @example Save and load a weight
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf, useBackend } from "../tf.ts";
 * await useBackend("cpu");
 * const dir = await Deno.makeTempDir();
 * const W = tf.tensor2d([[1, 2], [3, 4]]);
 * await saveCheckpoint(`${dir}/ckpt`, {
 *   weights: { W },
 *   config: { hidden: 2 },
 *   vocab: ["a", "b"],
 *   progress: { epoch: 1 },
 * });
 * const loaded = await loadCheckpoint(`${dir}/ckpt`);
 * deepStrictEqual(await loaded.weights.W.array(), [[1, 2], [3, 4]]);
 * deepStrictEqual(loaded.progress, { epoch: 1 });
 * tf.dispose([W, loaded.weights.W]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveCheckpoint(
  dir: string,
  checkpoint: CheckpointInput,
): Promise<CheckpointManifest> {
  for (const key of ["config", "vocab", "progress"] as const) {
    const problem = jsonProblem(checkpoint[key], key);
    if (problem) throw new TypeError(`Cannot save checkpoint "${dir}": ${problem}`);
  }
  const groups: [WeightGroup, Record<string, Tensor>][] = [
    ["model", checkpoint.weights],
    ["optimizer", checkpoint.optimizer ?? {}],
  ];
  const weightSpecs: WeightEntry[] = [];
  const chunks: Uint8Array[] = [];
  let byteOffset = 0;
  for (const [group, tensors] of groups) {
    for (const [name, tensor] of Object.entries(tensors)) {
      if (!(tensor instanceof tf.Tensor) || tensor.isDisposed) {
        throw new TypeError(
          `Cannot save checkpoint "${dir}": ${group} weight "${name}" is not a live tensor`,
        );
      }
      const { data, specs: [spec] } = await tf.io.encodeWeights([{ name, tensor }]);
      chunks.push(new Uint8Array(data));
      weightSpecs.push({
        name,
        group,
        shape: spec.shape,
        dtype: spec.dtype,
        byteOffset,
        byteLength: data.byteLength,
      });
      byteOffset += data.byteLength;
    }
  }
  const bin = concat(chunks, byteOffset);
  const manifest: CheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    kind: checkpoint.kind ?? DEFAULT_KIND,
    createdAt: new Date().toISOString(),
    // Copies as they will read back (undefined properties left out).
    config: jsonCopy(checkpoint.config),
    vocab: jsonCopy(checkpoint.vocab),
    progress: jsonCopy(checkpoint.progress),
    weightsByteLength: bin.byteLength,
    weightsSha256: sha256(bin),
    weightSpecs,
  };
  await assertReplaceable(dir);
  const text = new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n");
  try {
    // weights.bin first: a directory with a manifest is a complete one.
    await replaceDirectory(dir, [{ name: WEIGHTS, data: bin }, { name: MANIFEST, data: text }]);
  } catch (error) {
    throw fsError(`Cannot save checkpoint "${dir}"`, error);
  }
  return manifest;
}

/**
 * Loads a checkpoint saved by {@linkcode saveCheckpoint}, checking its format,
 * version, size and SHA-256, onto the active backend. When `dir` is missing
 * but a crash left a complete `<dir>.old-<tag>`, loads that (see `path`).
 *
 * @param dir the checkpoint directory.
 * @param options names that must be among the model weights.
 * @returns the tensors (the caller disposes them), the JSON parts and the manifest.
 * @throws {UsageError} naming the path and both values, for a missing
 *   directory, a directory that is not a checkpoint, a newer format version, a
 *   truncated or changed weights.bin, or an expected weight that is missing.
 *
 * @example
 * ```ts
 * import { rejects } from "node:assert";
 * await rejects(() => loadCheckpoint("no/such/checkpoint"), /no such directory/);
 * ```
 */
export async function loadCheckpoint(
  dir: string,
  options: LoadCheckpointOptions = {},
): Promise<LoadedCheckpoint> {
  const path = await resolve(dir);
  const manifest = await readManifestAt(path);
  const where = `Cannot load checkpoint "${path}"`;
  const names = manifest.weightSpecs.filter((e) => e.group === "model").map((e) => e.name);
  for (const name of options.expectWeights ?? []) {
    if (!names.includes(name)) {
      throw new UsageError(
        `${where}: weight "${name}" is missing from the manifest (it has ${
          names.join(", ") || "none"
        })`,
      );
    }
  }
  let bin: Uint8Array;
  try {
    bin = await Deno.readFile(join(path, WEIGHTS));
  } catch (error) {
    throw fsError(where, error);
  }
  if (bin.byteLength !== manifest.weightsByteLength) {
    throw new UsageError(
      `${where}: ${WEIGHTS} is ${bin.byteLength} bytes, but the manifest says ` +
        `${manifest.weightsByteLength} (the file is truncated or incomplete)`,
    );
  }
  const digest = sha256(bin);
  if (digest !== manifest.weightsSha256) {
    throw new UsageError(
      `${where}: ${WEIGHTS} has SHA-256 ${digest}, but the manifest says ` +
        `${manifest.weightsSha256} (the file was changed or damaged)`,
    );
  }
  const weights: Record<string, Tensor> = {};
  const optimizer: Record<string, Tensor> = {};
  try {
    for (const { name, group, shape, dtype, byteOffset, byteLength } of manifest.weightSpecs) {
      const data = bin.slice(byteOffset, byteOffset + byteLength).buffer;
      const decoded = tf.io.decodeWeights(data, [{ name, shape, dtype }]);
      (group === "model" ? weights : optimizer)[name] = decoded[name];
    }
  } catch (error) {
    tf.dispose([...Object.values(weights), ...Object.values(optimizer)]);
    throw new UsageError(`${where}: cannot decode ${WEIGHTS}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const { config, vocab, progress } = manifest;
  const kind = manifest.kind ?? DEFAULT_KIND;
  return { kind, weights, optimizer, config, vocab, progress, manifest, path };
}

/**
 * Reads and checks only `manifest.json`: quick validation without touching
 * the weights (a missing `dir` falls back to a crash's `.old-` sibling).
 *
 * @throws {UsageError} as {@linkcode loadCheckpoint} for the manifest's problems.
 *
 * @example
 * ```ts
 * import { rejects } from "node:assert";
 * await rejects(() => readManifest("no/such/checkpoint"), /no such directory/);
 * ```
 */
export async function readManifest(dir: string): Promise<CheckpointManifest> {
  return await readManifestAt(await resolve(dir));
}

/**
 * Appends `obj` as one JSON line to `path` (a metrics history such as
 * `metrics.jsonl`), creating the file and its parent directory if needed.
 *
 * @throws {UsageError} when the file cannot be written.
 * @throws {TypeError} for a value JSON cannot hold (NaN, a class instance).
 *
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * await appendJsonLine(`${dir}/metrics.jsonl`, { epoch: 1, trainPerplexity: 12.5 });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function appendJsonLine(path: string, obj: unknown): Promise<void> {
  const problem = jsonProblem(obj, "the record");
  if (problem) throw new TypeError(`Cannot append to "${path}": ${problem}`);
  const line = new TextEncoder().encode(JSON.stringify(obj) + "\n");
  try {
    await Deno.mkdir(dirname(path), { recursive: true });
    // One write call with O_APPEND: lines from one process never interleave.
    using file = await Deno.open(path, { append: true, create: true });
    for (let done = 0; done < line.length;) done += await file.write(line.subarray(done));
  } catch (error) {
    throw fsError(`Cannot append to "${path}"`, error);
  }
}

/**
 * Reads a JSON-lines file written by {@linkcode appendJsonLine}: one value per non-empty line.
 *
 * @throws {UsageError} for a missing file or a line that is not JSON (with its number).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const dir = await Deno.makeTempDir();
 * await appendJsonLine(`${dir}/m.jsonl`, { epoch: 1 });
 * deepStrictEqual(await readJsonLines(`${dir}/m.jsonl`), [{ epoch: 1 }]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readJsonLines(path: string): Promise<JsonValue[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw fsError(`Cannot read "${path}"`, error);
  }
  return text.split("\n").flatMap((line, i) => {
    if (line.trim() === "") return [];
    try {
      return [JSON.parse(line) as JsonValue];
    } catch (error) {
      throw new UsageError(
        `Cannot read "${path}": line ${i + 1} is not JSON (${(error as Error).message})`,
      );
    }
  });
}

/** `dir`, or the `.old-` sibling a crash left when `dir` is missing. */
async function resolve(dir: string): Promise<string> {
  const where = `Cannot load checkpoint "${dir}"`;
  try {
    const info = await Deno.stat(dir);
    if (!info.isDirectory) {
      throw new UsageError(`${where}: it is a file, not a checkpoint directory`);
    }
    return dir;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw fsError(where, error);
  }
  const leftover = await findLeftover(dir, MANIFEST);
  if (leftover) return leftover;
  throw new UsageError(`${where}: no such directory`);
}

async function readManifestAt(path: string): Promise<CheckpointManifest> {
  const where = `Cannot load checkpoint "${path}"`;
  let text: string;
  try {
    text = await Deno.readTextFile(join(path, MANIFEST));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`${where}: the directory has no ${MANIFEST}, so it is not a checkpoint`);
    }
    throw fsError(where, error);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${where}: ${MANIFEST} is not JSON (${(error as Error).message})`);
  }
  return checkManifest(json, path);
}

/** Refuses to replace a file, or a non-empty directory that is not a checkpoint. */
async function assertReplaceable(dir: string): Promise<void> {
  const where = `Cannot save checkpoint "${dir}"`;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw fsError(where, error);
  }
  if (!info.isDirectory) throw new UsageError(`${where}: a file is in the way`);
  try {
    await readManifestAt(dir);
  } catch {
    for await (const _ of Deno.readDir(dir)) {
      throw new UsageError(
        `${where}: the directory exists and is not a checkpoint; refusing to replace it`,
      );
    }
  }
}

/** Words a file system error: the user's to fix (UsageError) or a failure at run time. */
function fsError(where: string, error: unknown): Error {
  if (error instanceof UsageError) return error;
  const message = `${where}: ${(error as Error).message}`;
  const e = Deno.errors;
  const usage =
    [e.PermissionDenied, e.NotCapable, e.NotFound, e.NotADirectory, e.IsADirectory, e.AlreadyExists]
      .some((kind) => error instanceof kind) || (error as { code?: string }).code === "EROFS";
  return usage ? new UsageError(message, { cause: error }) : new Error(message, { cause: error });
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

function jsonCopy(value: unknown): JsonValue {
  return JSON.parse(JSON.stringify(value) ?? "null");
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
