/**
 * How much memory a training run may use, and a one-line refusal of a
 * configuration that cannot fit, made before anything is built (a model too
 * large otherwise grows for minutes and dies with an allocation error).
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/** The wasm backend's heap: 32-bit addresses, at most 4 GiB. */
export const WASM_HEAP_BYTES = 4 * 1024 ** 3;

/** The memory a run may use, and where that figure comes from. */
export interface MemoryLimit {
  /** Estimated bytes. */
  bytes: number;
  /** In words, e.g. "available system memory" or "the wasm backend's 4 GiB heap". */
  source: string;
}

/**
 * The memory a run on `backend` may use: the system's available memory
 * (`Deno.systemMemoryInfo()`, which needs `--allow-sys`), and at most the
 * wasm heap on the wasm backend. Infinity when nothing is known.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * ok(memoryLimit("wasm").bytes <= WASM_HEAP_BYTES);
 * ```
 */
export function memoryLimit(backend: string): MemoryLimit {
  let limit: MemoryLimit = { bytes: Infinity, source: "unknown" };
  try {
    const info = Deno.systemMemoryInfo();
    const bytes = info.available > 0 ? info.available : info.free;
    if (bytes > 0) limit = { bytes, source: "available system memory" };
  } catch { /* no --allow-sys: the system's figure is unknown */ }
  if (backend === "wasm" && WASM_HEAP_BYTES < limit.bytes) {
    limit = { bytes: WASM_HEAP_BYTES, source: "the wasm backend's 4 GiB heap" };
  }
  return limit;
}

/**
 * Bytes in a short human unit: `512 B`, `3.2 MiB`, `25.6 GiB`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(formatBytes(3 * 1024 ** 3), "3.0 GiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * Refuses, before anything is built, a run whose estimated memory exceeds the limit.
 *
 * @param needed the estimate, in bytes.
 * @param what the thing refused, e.g. `an lstm model of hidden size 20000`.
 * @param limit what may be used ({@linkcode memoryLimit}).
 * @param verb what is refused, e.g. `classify`. @default "train"
 * @throws {UsageError} "Cannot <verb> <what>: it needs about X, more than the Y of <source>".
 *
 * @example
 * ```ts
 * import { throws } from "node:assert";
 * throws(() => checkMemory(2e12, { bytes: 1e9, source: "test" }, "a big model"), /needs about/);
 * ```
 */
export function checkMemory(
  needed: number,
  limit: MemoryLimit,
  what: string,
  verb: string = "train",
): void {
  if (needed <= limit.bytes) return;
  throw new UsageError(
    `Cannot ${verb} ${what}: it needs about ${formatBytes(needed)}, more than the ` +
      `${formatBytes(limit.bytes)} of ${limit.source}`,
  );
}

/** The shape of one recurrent pass over a padded batch, for {@linkcode estimateSequenceMemory}. */
export interface SequenceMemoryShape {
  /** Sequences in the batch (B). */
  batchSize: number;
  /** Steps of the longest sequence (T): every sequence is padded to it. */
  steps: number;
  /** Width of each step's input (the embedding). */
  inputSize: number;
  /** Hidden units per layer and direction. */
  hiddenSize: number;
  /** Stacked layers. */
  layers: number;
  /** Gate blocks per cell: 1 rnn, 3 gru, 4 lstm. */
  gates: number;
  /** 2 when bidirectional. */
  directions: number;
  /** Scores per step (the vocabulary of a generator or decoder; 0 for a classifier). */
  outputsPerStep: number;
  /** Training keeps every step for back-propagation, with gradients; inference does not. */
  training: boolean;
}

/**
 * Estimates the bytes one padded batch needs in a recurrent pass (float32):
 * the inputs, every layer's gates, outputs and states at every step (twice
 * for training: their gradients), and the per-step scores. Used to refuse, in
 * one line, a sequence or batch that cannot fit (a 20-million-character
 * example, `--batch-size 100000`) before anything is built: an estimate
 * within a small factor, as {@linkcode checkMemory} wants.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * const shape = { batchSize: 64, steps: 20, inputSize: 32, hiddenSize: 128, layers: 1, gates: 3,
 *   directions: 1, outputsPerStep: 0, training: true };
 * ok(estimateSequenceMemory(shape) < 10 * 1024 ** 2);
 * ok(estimateSequenceMemory({ ...shape, steps: 20_000_000 }) > 1024 ** 4);
 * ```
 */
export function estimateSequenceMemory(shape: SequenceMemoryShape): number {
  const rows = shape.batchSize * shape.steps;
  const copies = shape.training ? 2 : 1;
  const recurrent = shape.layers * shape.directions * shape.hiddenSize * (shape.gates + 2);
  const floats = rows * (shape.inputSize + copies * recurrent) +
    rows * shape.outputsPerStep * (shape.training ? 4 : 2);
  return 4 * floats;
}
