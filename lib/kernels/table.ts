/**
 * The backend x kind table of sequence kernels: which fast path runs a cell
 * kind on a backend. A missing entry is not an error: `runSequence` then
 * takes the plain path (the cell's step, one tfjs op per gate, autograd), so
 * a new kind runs everywhere before any kernel is written for it.
 *
 * | backend | rnn | gru | lstm |
 * |---|---|---|---|
 * | webgpu | WGSL | WGSL | WGSL |
 * | native | C (`_native_sequence.ts`) | C | C |
 * | wasm, cpu, others | tf-ops op | tf-ops op | tf-ops op |
 *
 * @module
 */
import type { Tensor3D } from "../ops/tensors.ts";
import type { CellSpec, FusedWeights, SequenceResult, State } from "../cells/definition.ts";
import { fusedSequence, type FusedSequenceOptions, type SequenceRows } from "./fused_sequence.ts";
import { webgpuSequence } from "./webgpu/sequence.ts";

/** One entry of the table: how to run a whole sequence, and whether it takes rows of a table. */
export interface SequenceKernel {
  /** Runs the sequence (same contract as `fusedSequence`). */
  run(
    spec: CellSpec,
    weights: FusedWeights,
    xs: Tensor3D | SequenceRows,
    state: State,
    options: FusedSequenceOptions,
  ): SequenceResult;
  /** Whether `run` takes rows of a table (`SequenceRows`) as well as inputs. */
  rows: boolean;
}

/** The fused tf-ops op; on the native backend it runs the C kernels itself. */
const FUSED: SequenceKernel = { run: fusedSequence, rows: true };

/** WGSL step programs, or the fused op where they do not apply (a dtype other than float32). */
const WGSL: SequenceKernel = {
  run: (spec, weights, xs, state, options) =>
    webgpuSequence(spec, weights, xs as Tensor3D, state, options) ??
      fusedSequence(spec, weights, xs, state, options),
  rows: false,
};

/**
 * The table: backend name to kind to kernel. Backends not listed use `default`.
 *
 * @example WGSL for lstm, nothing for lnlstm
 * ```ts
 * import { ok } from "node:assert";
 * ok(SEQUENCE_KERNELS.webgpu.lstm !== undefined && SEQUENCE_KERNELS.default.lnlstm === undefined);
 * ```
 */
export const SEQUENCE_KERNELS: Readonly<
  Record<string, Readonly<Partial<Record<string, SequenceKernel>>>>
> = {
  webgpu: { rnn: WGSL, gru: WGSL, lstm: WGSL },
  native: { rnn: FUSED, gru: FUSED, lstm: FUSED },
  default: { rnn: FUSED, gru: FUSED, lstm: FUSED },
};

/**
 * The kernel that runs a spec on a backend, or undefined for the plain path
 * (a kind without an entry, or a user's own definition).
 *
 * @param backend the backend's name, e.g. `tf.getBackend()`.
 *
 * @example The plain path for lnlstm
 * ```ts
 * import { ok } from "node:assert";
 * ok(sequenceKernel({ kind: "gru", inputSize: 2, hiddenSize: 3 }, "wasm")?.rows === true);
 * ok(sequenceKernel({ kind: "lnlstm", inputSize: 2, hiddenSize: 3 }, "webgpu") === undefined);
 * ```
 */
export function sequenceKernel(spec: CellSpec, backend: string): SequenceKernel | undefined {
  if (spec.definition !== undefined) return undefined;
  return (SEQUENCE_KERNELS[backend] ?? SEQUENCE_KERNELS.default)[spec.kind];
}
