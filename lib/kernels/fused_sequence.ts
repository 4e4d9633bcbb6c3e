/**
 * A whole recurrent sequence as one differentiable op, with a hand-written
 * backward pass (back-propagation through time) instead of tfjs's autograd.
 *
 * Forward: one input projection matmul for all steps (`[T*B, D] x [D, G*H]`),
 * one recurrent matmul per step against the fused `[H, G*H]` kernel, a few
 * elementwise ops per step. Backward: per step only plain matmuls against a
 * pre-transposed `Wh^T`; the weight gradients as single large matmuls over all
 * `T*B` rows with explicitly transposed operands. On tfjs-backend-wasm the
 * transposed-operand matmuls that autograd uses are 15-40x slower than a
 * transpose plus a plain matmul, and per-op overhead dominates the small
 * elementwise work: this op is several times faster to train than the same
 * cell written step by step with tf ops.
 *
 * Only tf ops run inside, so it works on every backend (cpu, wasm, webgpu;
 * on native, each direction is instead one C call: `_native_sequence.ts`);
 * on wasm, row and column block copies use a small wasm-only kernel (see
 * `_copy.ts`), with `tf.slice`/`tf.concat` elsewhere.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { GradSaveFunc, Tensor, Tensor2D, Tensor3D } from "../ops/tensors.ts";
import type { CellSpec, FusedWeights, SequenceResult, State } from "../cells/definition.ts";
import { hasCellState } from "../cells/registry.ts";
import { cellParameters } from "../cells/spec.ts";
import { UsageError } from "../errors.ts";
import { type Dims, kernelDims, type SequenceShape } from "./_common.ts";

export type { Dims };
import { block } from "./_copy.ts";
import { gruAfterBackward, gruAfterForward, gruBackward, gruForward } from "./_gru.ts";
import { lstmBackward, lstmForward, lstmUnpack } from "./_lstm.ts";
import { rnnBackward, rnnForward } from "./_rnn.ts";
import { nativeSequenceKernels } from "./_native_sequence.ts";

/** A kernel's forward: the op's inputs to its value, saving what the backward needs. */
export type Forward = (
  inputs: Tensor[],
  dims: Dims,
  save: (t: Tensor[]) => void,
) => Tensor;
/** A kernel's backward: the value's gradient to one gradient per input. */
export type Backward = (dValue: Tensor, saved: Tensor[], dims: Dims) => Tensor[];
/** A kind's forward and backward for one spec. */
export interface SequenceKernels {
  /** The forward pass. */
  forward: Forward;
  /** The backward pass. */
  backward: Backward;
}

/**
 * A sequence given as rows of a table instead of `xs`: step `t` of sequence
 * `b` is row `ids[t, b]` of `table`, and the id `V` (one past the table) is a
 * row of zeros. The same values as `xs = [table; 0][ids]`, computed without
 * `xs` (see {@linkcode TableRows}); the gradient goes to `table`.
 */
export interface SequenceRows {
  /** `[V, D]`. */
  table: Tensor2D;
  /** `[T, B]`, float32 holding integers in `[0, V]`. */
  ids: Tensor2D;
}

/**
 * Whether a sequence is given as rows of a table.
 *
 * @example Rows or a tensor
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * ok(isSequenceRows({ table: tf.zeros([4, 2]) as tf.Tensor2D, ids: tf.zeros([3, 1]) as tf.Tensor2D }));
 * ok(!isSequenceRows(tf.zeros([3, 1, 2]) as tf.Tensor3D));
 * ```
 */
export function isSequenceRows(xs: Tensor3D | SequenceRows): xs is SequenceRows {
  return !(xs instanceof tf.Tensor);
}

/** Options of {@linkcode fusedSequence}. */
export interface FusedSequenceOptions {
  /**
   * Kinds with a memory cell (LSTM) only: also return the cell state after
   * every step (`cells` `[T, B, H]`), differentiable like the outputs.
   * Ignored for rnn and gru.
   * @default false
   */
  cellStates?: boolean;
}

/**
 * The tf-ops kernels by kind (the native backend swaps in its C ones for the
 * same kinds). A kind missing here runs on `runSequence`'s plain path.
 */
const TF_OPS_KERNELS: Readonly<
  Partial<Record<string, (spec: CellSpec, cellStates: boolean) => SequenceKernels>>
> = {
  rnn: (spec) => {
    const phi = spec.nonlinearity ?? "tanh";
    return {
      forward: (inputs, dims, save) => rnnForward(inputs, dims, save, phi),
      backward: (dValue, saved, dims) => rnnBackward(dValue, saved, dims, phi),
    };
  },
  gru: (spec) =>
    spec.resetAfter
      ? { forward: gruAfterForward, backward: gruAfterBackward }
      : { forward: gruForward, backward: gruBackward },
  lstm: (_spec, cellStates) =>
    cellStates
      ? {
        forward: (inputs, dims, save) => lstmForward(inputs, dims, save, true),
        backward: (dValue, saved, dims) => lstmBackward(dValue, saved, dims, true),
      }
      : { forward: lstmForward, backward: lstmBackward },
};

/**
 * Whether {@linkcode fusedSequence} has kernels for a spec (the built-in
 * rnn, gru and lstm; not a user's own definition).
 *
 * @example lstm has kernels, lnlstm not
 * ```ts
 * import { ok } from "node:assert";
 * ok(hasFusedKernels({ kind: "lstm", inputSize: 2, hiddenSize: 3 }));
 * ok(!hasFusedKernels({ kind: "lnlstm", inputSize: 2, hiddenSize: 3 }));
 * ```
 */
export function hasFusedKernels(spec: CellSpec): boolean {
  return spec.definition === undefined && TF_OPS_KERNELS[spec.kind] !== undefined;
}

function kernelsFor(spec: CellSpec, cellStates: boolean): SequenceKernels {
  const make = hasFusedKernels(spec) ? TF_OPS_KERNELS[spec.kind] : undefined;
  if (make === undefined) {
    throw new UsageError(
      `fusedSequence has no kernels for a ${spec.kind} cell; runSequence runs it on the plain path`,
    );
  }
  // The native backend: each direction is one C call (see _native_sequence.ts).
  return nativeSequenceKernels(spec, cellStates) ?? make(spec, cellStates);
}

/** What the shape checks read of rows: `[T, B, D]` from the ids and the table. */
function rowsShape(rows: SequenceRows): SequenceShape {
  const { table, ids } = rows;
  if (table.rank !== 2 || ids.rank !== 2 || ids.dtype !== "float32") {
    throw new Error(
      `fusedSequence: rows need a table [V, D] and float32 ids [T, B], got [${table.shape}] and ` +
        `${ids.dtype} [${ids.shape}]`,
    );
  }
  return { rank: 3, shape: [ids.shape[0], ids.shape[1], table.shape[1]], dtype: table.dtype };
}

/**
 * Runs a cell over a whole sequence as one op with an analytical gradient.
 *
 * Same arithmetic as stepping the cell with tf ops (see `lib/cells/`); works
 * inside `tf.grad`/`tf.variableGrads` (gradients reach `xs`, every weight,
 * `h0` and, for LSTM, `c0`; weights may be `tf.Variable`s), and a loss may use
 * the outputs, the final state and (with `cellStates`) the cell states.
 *
 * @param spec the cell kind and variant (`nonlinearity` for rnn, `resetAfter` for gru).
 * @param weights fused weights `Wx` `[D, G*H]`, `Wh` `[H, G*H]`, `b` `[G*H]` (and `bhh` `[H]`
 *   for a GRU with `resetAfter`).
 * @param xs inputs `[T, B, D]`, or rows of a table ({@linkcode SequenceRows}): then the
 *   gradient of the first input goes to the table.
 * @param state the initial state `{ h }` (`{ h, c }` for LSTM; a missing `c` is zeros), each `[B, H]`.
 * @param options `cellStates: true` adds `cells` `[T, B, H]` (`c_0 .. c_{T-1}`) for an LSTM.
 * @returns outputs `[T, B, H]`, the final state and, when asked for, `cells`; new tensors,
 *   owned by the caller.
 * @throws {Error} when a shape or dtype does not fit the spec.
 * @throws {UsageError} for a kind without fused kernels (see {@linkcode hasFusedKernels}).
 *
 * @example One LSTM sequence and its gradient
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { fusedSequence } from "./fused_sequence.ts";
 * const spec = { kind: "lstm" as const, inputSize: 3, hiddenSize: 2 };
 * const weights = {
 *   Wx: tf.randomNormal([3, 8]) as tf.Tensor2D,
 *   Wh: tf.randomNormal([2, 8]) as tf.Tensor2D,
 *   b: tf.zeros([8]) as tf.Tensor1D,
 * };
 * const xs = tf.randomNormal([5, 4, 3]) as tf.Tensor3D; // [T, B, D]
 * const h = tf.zeros([4, 2]) as tf.Tensor2D;
 * const { outputs, state } = fusedSequence(spec, weights, xs, { h });
 * ok(outputs.shape.join() === "5,4,2" && state.c !== undefined);
 * const dWh = tf.grad((Wh: tf.Tensor) =>
 *   fusedSequence(spec, { ...weights, Wh: Wh as tf.Tensor2D }, xs, { h }).outputs.sum()
 * )(weights.Wh);
 * ok(dWh.shape.join() === "2,8");
 * ```
 *
 * @example Rows of a table: the same outputs as the looked-up inputs, for less work
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { fusedSequence } from "./fused_sequence.ts";
 * const spec = { kind: "gru" as const, inputSize: 2, hiddenSize: 3 };
 * const weights = { Wx: tf.randomNormal([2, 9]) as tf.Tensor2D, Wh: tf.randomNormal([3, 9]) as tf.Tensor2D, b: tf.zeros([9]) as tf.Tensor1D };
 * const table = tf.tensor2d([[1, 2], [3, 4]]); // V = 2; id 2 reads zeros
 * const ids = tf.tensor2d([[0, 1], [1, 2]]); // [T, B], float32
 * const h = tf.zeros([2, 3]) as tf.Tensor2D;
 * const a = fusedSequence(spec, weights, { table, ids }, { h }).outputs;
 * const xs = tf.tensor3d([[[1, 2], [3, 4]], [[3, 4], [0, 0]]]);
 * const b = fusedSequence(spec, weights, xs, { h }).outputs;
 * ok(Math.max(...(await tf.abs(tf.sub(a, b)).data())) < 1e-6);
 * ```
 *
 * @example Cell states after every step, in the loss
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { fusedSequence } from "./fused_sequence.ts";
 * const spec = { kind: "lstm" as const, inputSize: 3, hiddenSize: 2 };
 * const Wx = tf.randomNormal([3, 8]) as tf.Tensor2D, Wh = tf.randomNormal([2, 8]) as tf.Tensor2D;
 * const b = tf.zeros([8]) as tf.Tensor1D;
 * const xs = tf.randomNormal([5, 4, 3]) as tf.Tensor3D; // [T, B, D]
 * const h = tf.zeros([4, 2]) as tf.Tensor2D;
 * const r = fusedSequence(spec, { Wx, Wh, b }, xs, { h }, { cellStates: true });
 * ok(r.cells!.shape.join() === "5,4,2"); // [T, B, H]
 * const dxs = tf.grad((x: tf.Tensor) =>
 *   fusedSequence(spec, { Wx, Wh, b }, x as tf.Tensor3D, { h }, { cellStates: true }).cells!.sum()
 * )(xs);
 * ok(dxs.shape.join() === "5,4,3");
 * ```
 */
export function fusedSequence(
  spec: CellSpec,
  weights: FusedWeights,
  xs: Tensor3D | SequenceRows,
  state: State,
  options: FusedSequenceOptions = {},
): SequenceResult {
  const rows = isSequenceRows(xs);
  const dims = kernelDims("fusedSequence", spec, weights, rows ? rowsShape(xs) : xs, state);
  const { T, B, H } = dims;
  const memory = hasCellState(spec);
  const cellStates = memory && options.cellStates === true;
  const { forward, backward } = kernelsFor(spec, cellStates);
  return tf.tidy(() => {
    const inputs: Tensor[] = [rows ? xs.table : xs, weights.Wx, weights.Wh, weights.b, state.h];
    if (memory) inputs.push(state.c ?? tf.zeros([B, H]));
    for (const p of cellParameters(spec)) inputs.push(weights[p.key]!); // a reset-after GRU's bhh
    // Rows: the ids ride last, as an input (so the backward pass still has them); no gradient.
    if (rows) inputs.push(tf.reshape(xs.ids, [T * B]));
    const op = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
      const save = args.pop() as GradSaveFunc;
      const opDims = { ...dims, rows };
      return {
        value: forward(args as Tensor[], opDims, save) as Tensor3D,
        gradFunc: (dy: Tensor3D, saved: Tensor[]) =>
          tf.tidy(() => {
            const grads = backward(dy, saved, opDims);
            return rows ? [...grads, tf.zerosLike(saved[1])] : grads;
          }),
      };
    });
    const value = op(...inputs) as Tensor3D;
    if (memory) {
      const { outputs, h, c, cells } = lstmUnpack(value, dims, cellStates);
      const result = {
        outputs: outputs as Tensor3D,
        state: { h: h as Tensor2D, c: c as Tensor2D },
      };
      return cells ? { ...result, cells: cells as Tensor3D } : result;
    }
    const h = block(tf.reshape(value, [T * B, H]) as Tensor2D, (T - 1) * B, B);
    return { outputs: value, state: { h } };
  });
}
