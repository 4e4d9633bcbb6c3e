/**
 * Export of a trained checkpoint: load it, turn it into ONNX or safetensors
 * files with its metadata, and write them without ever leaving a half-written
 * file behind (a temporary name, then a rename).
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import type { CheckpointChoice } from "../training/run.ts";
import { LanguageModel } from "../lm/model.ts";
import { SequenceClassifier } from "../classify/model.ts";
import { loadForExport } from "./load.ts";
import { exportMetadata } from "./metadata.ts";
import { onnxFiles } from "./onnx.ts";
import { encodeSafetensors } from "./safetensors.ts";
import { torchStateDictOf } from "./state_dict.ts";

/** The formats a model can be exported to. */
export type ExportFormat = "onnx" | "safetensors";

/** The formats, for validation and help text. */
export const EXPORT_FORMATS: readonly ExportFormat[] = ["onnx", "safetensors"];

/** Options of {@linkcode exportCheckpoint}. */
export interface ExportOptions {
  /** A run or checkpoint directory. */
  checkpoint: string;
  /** A run directory's best or last checkpoint. @default "best" */
  which?: CheckpointChoice;
  /** `onnx` or `safetensors`. */
  format: ExportFormat;
  /**
   * The file to write; for a seq2seq model in ONNX, a directory that gets
   * `encoder.onnx` and `decoder.onnx`.
   */
  out: string;
  /** Replace `out` when it exists. @default false */
  overwrite?: boolean;
}

/** What {@linkcode exportCheckpoint} did. */
export interface ExportResult {
  /** The checkpoint's model kind (lm, classifier, generator, seq2seq). */
  kind: string;
  /** The format written. */
  format: ExportFormat;
  /** The checkpoint directory read. */
  checkpoint: string;
  /** Every file written. */
  files: string[];
  /** Bytes written in all. */
  bytes: number;
  /** Wall time of load + convert + write, in seconds. */
  seconds: number;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Writes `bytes` at `path` through a temporary sibling and a rename. */
async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeFile(tmp, bytes);
  await Deno.rename(tmp, path);
}

/**
 * Exports a checkpoint.
 *
 * @throws {UsageError} for an unknown format, a kind that cannot be exported
 *   to that format, an existing `out` without `overwrite`, or a directory that
 *   is no checkpoint. Nothing is written then.
 *
 * @example An unknown format is refused before anything is read
 * ```ts
 * import { rejects } from "node:assert";
 * await rejects(
 *   () => exportCheckpoint({ checkpoint: "runs/x", format: "tflite" as never, out: "x" }),
 *   /format "tflite"/,
 * );
 * ```
 */
export async function exportCheckpoint(options: ExportOptions): Promise<ExportResult> {
  const started = performance.now();
  const { format, out } = options;
  if (!EXPORT_FORMATS.includes(format)) {
    throw new UsageError(
      `Cannot export: format "${format}" is unknown, expected one of ${EXPORT_FORMATS.join(", ")}`,
    );
  }
  if (!options.overwrite && await exists(out)) {
    throw new UsageError(`Cannot export to "${out}": it exists; pass --overwrite to replace it`);
  }
  const loaded = await loadForExport(options.checkpoint, { which: options.which });
  try {
    const metadata = exportMetadata(loaded);
    let files: Record<string, Uint8Array>;
    let directory = false;
    if (format === "onnx") {
      files = onnxFiles(loaded.model, metadata);
      directory = Object.keys(files).length > 1;
    } else {
      const model = loaded.model;
      if (!(model instanceof LanguageModel || model instanceof SequenceClassifier)) {
        throw new UsageError(
          `Cannot export checkpoint ${loaded.path} as safetensors: it holds a ${loaded.kind} ` +
            "model, and only lm and classifier models have a PyTorch twin " +
            "(nn.Embedding + nn.RNN/GRU/LSTM + nn.Linear); use --format onnx",
        );
      }
      const variant: Record<string, string> = model.config.cell === "gru"
        ? { gru: model.rnn.options.resetAfter ? "reset_after" : "reset_before" }
        : {};
      files = { "": encodeSafetensors(torchStateDictOf(model), { ...metadata, ...variant }) };
    }
    const written: string[] = [];
    if (directory) {
      if (options.overwrite && await exists(out)) await Deno.remove(out, { recursive: true });
      await Deno.mkdir(out, { recursive: true });
      for (const [name, bytes] of Object.entries(files)) {
        await writeAtomically(`${out}/${name}`, bytes);
        written.push(`${out}/${name}`);
      }
    } else {
      if (options.overwrite && (await exists(out)) && (await Deno.stat(out)).isDirectory) {
        await Deno.remove(out, { recursive: true });
      }
      await writeAtomically(out, Object.values(files)[0]);
      written.push(out);
    }
    return {
      kind: loaded.kind,
      format,
      checkpoint: loaded.path,
      files: written,
      bytes: Object.values(files).reduce((n, b) => n + b.length, 0),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    loaded.model.dispose();
  }
}
