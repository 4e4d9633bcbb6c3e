/**
 * Running one cell (one layer, one direction) over a whole sequence: the
 * single entry point that cell objects and stacks call, so a faster
 * implementation for a backend can be put behind it in one place.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor, Tensor1D, Tensor2D, Tensor3D, Variable2D } from "../ops/tensors.ts";
import { UsageError } from "../errors.ts";
import type { CellSpec, FusedWeights, SequenceResult, State } from "../cells/definition.ts";
import { hasCellState } from "../cells/registry.ts";
import { checkFused, checkState } from "../cells/spec.ts";
import { projectInput, recurrentStep } from "../cells/step.ts";
import { formatShape } from "../ops/shape.ts";
import { tidy } from "../ops/tidy.ts";
import {
  allFull,
  atLastStep,
  checkLengths,
  fullStepMask,
  lastStepMask,
  type Lengths,
  stepMask,
} from "./lengths.ts";
import { isSequenceRows, type SequenceRows } from "../kernels/fused_sequence.ts";
import { sequenceKernel } from "../kernels/table.ts";
import { embeddingLookup } from "./embedding.ts";
import { atLastSteps, zeroPastLengths } from "../kernels/length_mask.ts";
import { NATIVE_BACKEND } from "../native/backend.ts";

let fusedEnabled = true;

/**
 * Chooses how {@linkcode runSequence} runs: the fused path (one custom
 * gradient over the whole sequence, lib/kernels/, with WGSL step kernels on
 * webgpu; the default) or the plain
 * path (one tfjs op per gate, autograd taping each). Both compute the same
 * equations; the plain one is the readable reference and the fallback.
 *
 * @returns the previous setting.
 *
 * @example Switch to the plain path and back
 * ```ts
 * const previous = useFusedSequences(false);
 * useFusedSequences(previous);
 * ```
 */
export function useFusedSequences(enabled: boolean): boolean {
  const previous = fusedEnabled;
  fusedEnabled = enabled;
  return previous;
}

/**
 * Checks `xs` `[T, B, D]`, the state and the weights against the spec.
 *
 * @returns `[T, B]`.
 * @throws {UsageError} naming the argument, its shape and the expected one.
 *
 * @example The sizes, or a UsageError naming the shape
 * ```ts
 * import { deepStrictEqual, throws } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { initialWeights } from "../cells/init.ts";
 * const spec = { kind: "rnn", inputSize: 2, hiddenSize: 3 };
 * const w = initialWeights(spec), h = tf.zeros([4, 3]) as tf.Tensor2D;
 * deepStrictEqual(checkSequence(spec, w, tf.zeros([5, 4, 2]), { h }), [5, 4]);
 * throws(() => checkSequence(spec, w, tf.zeros([5, 4, 3]), { h }), /xs has shape \[5, 4, 3\]/);
 * ```
 */
export function checkSequence(
  spec: CellSpec,
  weights: FusedWeights,
  xs: Tensor,
  state: State,
): [number, number] {
  const action = `Cannot run a ${spec.kind} cell`;
  if (xs.rank !== 3 || xs.shape[2] !== spec.inputSize || xs.shape[0] < 1) {
    throw new UsageError(
      `${action}: xs has shape ${formatShape(xs.shape)}, expected [T, B, ${spec.inputSize}]` +
        ` with T >= 1 (inputSize ${spec.inputSize})`,
    );
  }
  const [T, B] = xs.shape as [number, number, number];
  checkFused(action, spec, weights);
  checkState(action, spec, state, B);
  return [T, B];
}

/**
 * Checks rows of a table (`table` `[V, D]`, float32 `ids` `[T, B]`), the
 * state and the weights against the spec.
 *
 * @returns `[T, B]`.
 * @throws {UsageError} naming the argument, its shape and the expected one.
 *
 * @example Rows of a table: ids must be float32
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { initialWeights } from "../cells/init.ts";
 * const spec = { kind: "rnn", inputSize: 2, hiddenSize: 3 };
 * const rows = { table: tf.zeros([7, 2]) as tf.Tensor2D, ids: tf.zeros([5, 4]) as tf.Tensor2D };
 * deepStrictEqual(checkRows(spec, initialWeights(spec), rows, { h: tf.zeros([4, 3]) as tf.Tensor2D }), [5, 4]);
 * ```
 */
export function checkRows(
  spec: CellSpec,
  weights: FusedWeights,
  rows: SequenceRows,
  state: State,
): [number, number] {
  const action = `Cannot run a ${spec.kind} cell`;
  const { table, ids } = rows;
  if (table.rank !== 2 || table.shape[1] !== spec.inputSize) {
    throw new UsageError(
      `${action}: table has shape ${formatShape(table.shape)}, expected [V, ${spec.inputSize}]`,
    );
  }
  if (ids.rank !== 2 || ids.shape[0] < 1 || ids.dtype !== "float32") {
    throw new UsageError(
      `${action}: ids are ${ids.dtype} ${formatShape(ids.shape)}, expected float32 [T, B], T >= 1`,
    );
  }
  const [T, B] = ids.shape as [number, number];
  checkFused(action, spec, weights);
  checkState(action, spec, state, B);
  return [T, B];
}

/**
 * The inputs `[T, B, D]` that rows of a table stand for (`[table; 0][ids]`),
 * differentiable in the table: for the paths without a rows mode (webgpu,
 * the plain one).
 */
function rowInputs(rows: SequenceRows): Tensor3D {
  const withZeros = tf.concat([rows.table, tf.zeros([1, rows.table.shape[1]])], 0);
  return embeddingLookup(
    withZeros as Variable2D,
    tf.cast(rows.ids, "int32"),
  ) as Tensor3D;
}

/** Options of {@linkcode runSequence}. */
export interface SequenceOptions {
  /**
   * Per-sequence lengths `[B]` (PyTorch's packed sequences): outputs past
   * each length are 0, the final state is each sequence's own after its last
   * real step, and padded inputs change nothing and get no gradient.
   * @default every sequence is T steps long
   */
  lengths?: Lengths;
}

/** Options of the sequence paths below {@linkcode runSequence}. */
export interface PathOptions {
  /** Kinds with a memory cell: also return the cell state of every step (`cells`). @default false */
  cellStates?: boolean;
}

/**
 * Runs one cell over a sequence. The input projection of every step is one
 * matmul, `[T*B, D] x [D, G*H]`; then each step adds the recurrent matmul and
 * applies the gates.
 *
 * With `lengths`, the batch is read as variable-length sequences padded to
 * `T`: padded inputs are zeroed before the kernel runs (so neither their
 * values nor NaN reach anything, and their gradient is exactly 0), outputs
 * past each length are zeroed, and the final state is picked at each
 * sequence's last real step. The kernels themselves stay the fast
 * full-length ones; the masking is a few elementwise ops around them.
 *
 * Known limit: the padded steps are computed (from zero inputs) and then
 * discarded. For tanh, sigmoid-gated and bounded cells that is harmless; a
 * relu rnn whose recurrence grows past float32 within the padding gives
 * finite outputs and states but NaN weight gradients (PyTorch skips those
 * steps).
 *
 * @param spec the cell's kind, sizes and variant flags.
 * @param weights fused weights (tensors or variables; not disposed here).
 * @param xs the inputs `[T, B, D]`, step t at `xs[t]`; or rows of a table
 *   ({@linkcode SequenceRows}: an embedding folded into the input projection, the same
 *   result for a fraction of the work; cpu and wasm run it in the fused kernels,
 *   webgpu and the plain path look the rows up first).
 * @param state the state before step 0, each `[B, H]`.
 * @param options per-sequence lengths.
 * @returns `outputs` `[T, B, H]` (the hidden state after each step) and the
 *   final state: new tensors the caller disposes. Differentiable.
 * @throws {UsageError} when a shape does not fit the spec or a length is out of range.
 *
 * @example An lstm over a sequence
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { initialWeights } from "../cells/init.ts";
 * const spec = { kind: "lstm" as const, inputSize: 3, hiddenSize: 2 };
 * const weights = initialWeights(spec);
 * const state = { h: tf.zeros([4, 2]) as tf.Tensor2D, c: tf.zeros([4, 2]) as tf.Tensor2D };
 * const { outputs } = runSequence(spec, weights, tf.ones([5, 4, 3]), state);
 * deepStrictEqual(outputs.shape, [5, 4, 2]);
 * ```
 *
 * @example Variable lengths: zeros past each length
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { initialWeights } from "../cells/init.ts";
 * const spec = { kind: "gru" as const, inputSize: 3, hiddenSize: 2 };
 * const state = { h: tf.zeros([2, 2]) as tf.Tensor2D };
 * const xs = tf.ones([4, 2, 3]) as tf.Tensor3D; // [T, B, D]
 * const { outputs } = runSequence(spec, initialWeights(spec), xs, state, { lengths: [4, 2] });
 * deepStrictEqual(Array.from(await outputs.slice([2, 1, 0], [2, 1, 2]).data()), [0, 0, 0, 0]);
 * ```
 */
export function runSequence(
  spec: CellSpec,
  weights: FusedWeights,
  xs: Tensor3D | SequenceRows,
  state: State,
  options: SequenceOptions = {},
): SequenceResult {
  const [T, B] = isSequenceRows(xs)
    ? checkRows(spec, weights, xs, state)
    : checkSequence(spec, weights, xs, state);
  const given = options.lengths;
  if (given === undefined) return fullSequence(spec, weights, xs, state, {});
  checkLengths(given, T, B, `Cannot run a ${spec.kind} cell`);
  // On cpu and wasm a lengths tensor is read (a few bytes, no GPU to stall):
  // masks built in JS cost a fraction of tensor-op ones.
  const known = !(given instanceof tf.Tensor)
    ? given
    : tf.getBackend() === "webgpu"
    ? undefined
    : given.dataSync() as Int32Array;
  // Every sequence full: the masks would change nothing, so skip their cost.
  if (known && allFull(known, T)) return fullSequence(spec, weights, xs, state, {});
  return maskedSequence(spec, weights, xs, state, known ?? given as Tensor1D);
}

/**
 * The path for full-length sequences: the backend x kind table's kernel
 * (WGSL on webgpu, C on native, the fused tfjs-ops op on cpu and wasm), or,
 * where the table has no entry for this backend and kind, the plain one.
 */
function fullSequence(
  spec: CellSpec,
  weights: FusedWeights,
  xs: Tensor3D | SequenceRows,
  state: State,
  options: PathOptions,
): SequenceResult {
  const kernel = fusedEnabled ? sequenceKernel(spec, tf.getBackend()) : undefined;
  // Rows of a table have a mode in some kernels only; elsewhere they become inputs.
  if (isSequenceRows(xs) && !kernel?.rows) {
    return tidy(() => fullSequence(spec, weights, rowInputs(xs), state, options));
  }
  if (kernel === undefined) return plainSequence(spec, weights, xs as Tensor3D, state, options);
  return kernel.run(spec, weights, xs, state, options);
}

/**
 * {@linkcode runSequence} with lengths: mask the inputs, run, mask the
 * outputs, pick the finals. Lengths known in JS get full-shape masks built
 * in JS; a tensor's masks are built with tensor ops (never read back).
 */
function maskedSequence(
  spec: CellSpec,
  weights: FusedWeights,
  xs: Tensor3D | SequenceRows,
  state: State,
  lengths: Tensor1D | ArrayLike<number>,
): SequenceResult {
  const rows = isSequenceRows(xs);
  const [T, B, D] = rows ? [...xs.ids.shape, xs.table.shape[1]] : xs.shape;
  const lstm = hasCellState(spec); // a memory cell: its final value is picked too
  if (!(lengths instanceof tf.Tensor) && tf.getBackend() === NATIVE_BACKEND) {
    return nativeMaskedSequence(spec, weights, xs, state, lengths);
  }
  return tidy(() => {
    const H = spec.hiddenSize;
    // Rows read the zero row V past each length; inputs are zeroed there.
    const width = rows ? 1 : D;
    let realIn: Tensor3D, realOut: Tensor3D, last: Tensor3D; // bool [T, B, width or H]
    if (lengths instanceof tf.Tensor) {
      const real = tf.expandDims(stepMask(lengths, T), 2); // [T, B, 1]
      [realIn, realOut] = [tf.broadcastTo(real, [T, B, width]), tf.broadcastTo(real, [T, B, H])];
      last = lastStepMask(lengths, T); // [T, B, 1], broadcast by atLastStep
    } else {
      realIn = fullStepMask(lengths, T, width, "real");
      realOut = width === H ? realIn : fullStepMask(lengths, T, H, "real");
      last = fullStepMask(lengths, T, H, "last");
    }
    const clean: Tensor3D | SequenceRows = rows
      ? {
        table: xs.table,
        ids: tf.where(
          tf.reshape(realIn, [T, B]),
          xs.ids,
          tf.fill([T, B], xs.table.shape[0]),
        ) as Tensor2D,
      }
      : tf.where(realIn, xs, tf.zerosLike(xs)) as Tensor3D;
    const run = fullSequence(spec, weights, clean, state, { cellStates: lstm });
    // Zeros past each length: a select, so not even an overflow in the padding gets through.
    const outputs = tf.where(realOut, run.outputs, tf.zerosLike(run.outputs)) as Tensor3D;
    return withFinalState(spec, run, outputs, (seq) => atLastStep(seq, last));
  });
}

/**
 * The masked outputs with the final state picked at each sequence's last
 * step by `pick` (`[T, B, H]` to `[B, H]`): `h` from the outputs, and an
 * LSTM's `c` from the cell states the run returned.
 */
function withFinalState(
  spec: CellSpec,
  run: SequenceResult,
  outputs: Tensor3D,
  pick: (seq: Tensor3D) => Tensor2D,
): SequenceResult {
  const h = pick(outputs); // [B, H]
  if (!hasCellState(spec)) return { outputs, state: { h } };
  if (run.cells === undefined) {
    throw new Error(`runSequence: the ${spec.kind} path returned no cell states`);
  }
  return { outputs, state: { h, c: pick(run.cells) } };
}

/**
 * {@linkcode maskedSequence} on the native backend: the same values and
 * gradients from the length ops of `length_mask.ts` (one pass each, where
 * the selects above are several tf ops each way).
 */
function nativeMaskedSequence(
  spec: CellSpec,
  weights: FusedWeights,
  xs: Tensor3D | SequenceRows,
  state: State,
  lengths: ArrayLike<number>,
): SequenceResult {
  return tidy(() => {
    // Rows read the zero row V past each length (the ids are [T, B]: a JS pass).
    const clean = isSequenceRows(xs) ? cleanRows(xs, lengths) : zeroPastLengths(xs, lengths);
    const run = fullSequence(spec, weights, clean, state, { cellStates: hasCellState(spec) });
    const outputs = zeroPastLengths(run.outputs, lengths);
    return withFinalState(spec, run, outputs, (seq) => atLastSteps(seq, lengths));
  });
}

/** Rows whose ids past each length name the zero row (`V`, one past the table). */
function cleanRows(xs: SequenceRows, lengths: ArrayLike<number>): SequenceRows {
  const [T, B] = xs.ids.shape, V = xs.table.shape[0];
  const ids = Float32Array.from(xs.ids.dataSync());
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) if (t >= lengths[b]) ids[t * B + b] = V;
  }
  return { table: xs.table, ids: tf.tensor2d(ids, [T, B]) };
}

/**
 * {@linkcode runSequence}'s plain path: the step functions of the cell files,
 * one after the other, differentiated by tfjs's autograd.
 *
 * @example A gru one step at a time
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { initialWeights } from "../cells/init.ts";
 * const spec = { kind: "gru" as const, inputSize: 3, hiddenSize: 2 };
 * const state = { h: tf.zeros([4, 2]) as tf.Tensor2D };
 * const { outputs } = plainSequence(spec, initialWeights(spec), tf.ones([5, 4, 3]), state);
 * deepStrictEqual(outputs.shape, [5, 4, 2]);
 * ```
 */
export function plainSequence(
  spec: CellSpec,
  weights: FusedWeights,
  xs: Tensor3D,
  state: State,
  options: PathOptions = {},
): SequenceResult {
  const [T, B] = checkSequence(spec, weights, xs, state);
  const D = spec.inputSize;
  return tidy(() => {
    const flat = tf.reshape(xs, [T * B, D]) as Tensor2D; // [T*B, D]
    const projected = projectInput(spec, weights, flat); // [T*B, G*H]
    const perStep = tf.split(projected, T, 0) as Tensor2D[]; // T x [B, G*H]
    const hs: Tensor2D[] = [];
    const cs: Tensor2D[] = [];
    let current = state;
    for (const xw of perStep) {
      current = tidy(() => recurrentStep(spec, weights, xw, current));
      hs.push(current.h);
      if (current.c) cs.push(current.c);
    }
    const outputs = tf.stack(hs) as Tensor3D;
    if (options.cellStates && cs.length === T) {
      return { outputs, state: current, cells: tf.stack(cs) as Tensor3D };
    }
    return { outputs, state: current };
  });
}
