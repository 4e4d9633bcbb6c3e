/**
 * Pieces shared by the fused sequence kernels of every cell kind.
 *
 * Notation: `T` steps, `B` batch rows, `D` inputs, `H` hidden units, `G` gate
 * blocks, `N = T*B` rows when a whole sequence is laid out as one matrix
 * (step-major: rows `t*B .. t*B+B-1` are step `t`).
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Scalar, Tensor, Tensor1D, Tensor2D } from "../ops/tensors.ts";
import { block, concat2d } from "./_copy.ts";
import { gatherRows } from "./gather_rows.ts";
import type { CellSpec, FusedWeights, State } from "../cells/definition.ts";
import { cellDefinition } from "../cells/registry.ts";
import { cellParameters } from "../cells/spec.ts";

/** Sizes of one sequence. */
export interface Dims {
  /** Time steps. */
  T: number;
  /** Batch rows. */
  B: number;
  /** Inputs per step. */
  D: number;
  /** Hidden units. */
  H: number;
  /**
   * The inputs are rows of a table ({@linkcode TableRows}): the op's first
   * input is the table `[V, D]` and its last the ids. @default false
   */
  rows?: boolean;
}

/**
 * A sequence's inputs given as rows of a table: an embedding folded into the
 * first layer's input projection. `ids` `[T*B]` (step-major; float32 holding
 * integers, so the op can take it as an input) index `table` `[V, D]`; the id
 * `V` reads a row of zeros (padding).
 *
 * Why: `X Wx` over all `T*B` rows becomes `(table Wx)[ids]` over `V` rows, and
 * the input gradient `dZ Wx^T` and the weight gradient `X^T dZ` shrink the
 * same way (a vocabulary of 85 against 448 rows in the classifier).
 */
export interface TableRows {
  /** `[V, D]`. */
  table: Tensor;
  /** `[T*B]`, float32 holding integers in `[0, V]`. */
  ids: Tensor;
}

/** The sequence's inputs as the kernels read them: the matrix `X` `[T*B, D]`, or rows of a table. */
export type KernelInputs = Tensor | TableRows;

/**
 * Whether the inputs are rows of a table.
 *
 * @example A tensor is not rows
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * deepStrictEqual(isRows(tf.zeros([2, 3])), false);
 * deepStrictEqual(isRows({ table: tf.zeros([4, 3]), ids: tf.zeros([2]) }), true);
 * ```
 */
export function isRows(X: KernelInputs): X is TableRows {
  return !(X instanceof tf.Tensor);
}

/**
 * The kernel's inputs from the op's: `xs` `[T, B, D]` as `X`, or the table and the ids (last).
 *
 * @example xs as one [T*B, D] matrix
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const X = kernelInputs([tf.zeros([2, 3, 4])], { T: 2, B: 3, D: 4, H: 1 }) as tf.Tensor;
 * deepStrictEqual(X.shape, [6, 4]);
 * ```
 */
export function kernelInputs(inputs: Tensor[], dims: Dims): KernelInputs {
  if (dims.rows) return { table: inputs[0], ids: inputs[inputs.length - 1] };
  return tf.reshape(inputs[0], [dims.T * dims.B, dims.D]);
}

/**
 * The tensors a kernel saves for its inputs (first in its saved list).
 *
 * @example Rows save the table and the ids
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * deepStrictEqual(savedInputs({ table: tf.zeros([4, 3]), ids: tf.zeros([2]) }).length, 2);
 * ```
 */
export function savedInputs(X: KernelInputs): Tensor[] {
  return isRows(X) ? [X.table, X.ids] : [X];
}

/**
 * The inverse of {@linkcode savedInputs}: the inputs, and the rest of the saved list.
 *
 * @example The inputs back, and the rest
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const [X, rest] = fromSaved([tf.zeros([6, 4]), tf.ones([1])], { T: 2, B: 3, D: 4, H: 1 });
 * deepStrictEqual([(X as tf.Tensor).shape, rest.length], [[6, 4], 1]);
 * ```
 */
export function fromSaved(saved: Tensor[], dims: Dims): [KernelInputs, Tensor[]] {
  return dims.rows
    ? [{ table: saved[0], ids: saved[1] }, saved.slice(2)]
    : [saved[0], saved.slice(1)];
}

/**
 * The input side's gradients for rows of a table, from the input
 * pre-activations' gradient `dZx` `[T*B, W]`: rows of the same id summed into
 * `dP` `[V, W]`, then `dTable = dP Wx^T`, `dWx = table^T dP`, `db = sum(dZx)`.
 *
 * @example Two steps reading the same row add up
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const rows = { table: tf.ones([2, 1]), ids: tf.tensor1d([1, 1]) };
 * const { dTable, db } = rowsGrads(tf.ones([2, 3]), rows, tf.ones([1, 3]));
 * deepStrictEqual([await dTable.array(), await db.array()], [[[0], [6]], [2, 2, 2]]);
 * ```
 */
export function rowsGrads(
  dZx: Tensor,
  rows: TableRows,
  Wx: Tensor,
): { dTable: Tensor; dWx: Tensor; db: Tensor } {
  const [V, D] = rows.table.shape as [number, number], W = dZx.shape[1] as number;
  const at = tf.expandDims(tf.cast(rows.ids, "int32"), 1); // [T*B, 1]
  const dPall = tf.scatterND(at, dZx, [V + 1, W]); // row V: the padding's sum
  // [table; 0 | 1]^T dPall = [dWx; db] in one matmul (a column sum alone is a slow reduction).
  const source = concat2d([concat2d([rows.table, tf.zeros([1, D])], 0), tf.ones([V + 1, 1])], 1);
  const P = tf.matMul(tf.transpose(source), dPall); // [D+1, W]
  return {
    dTable: tf.matMul(block(dPall, 0, V), tf.transpose(Wx)), // [V, D]
    dWx: block(P, 0, D), // [D, W]
    db: tf.reshape(block(P, D, 1), [W]), // [W]
  };
}

/**
 * `Hsrc^T dZ` `[H, W]`: a recurrent kernel's gradient alone (rows mode, where X has its own).
 *
 * @example Hsrc^T dZ
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * deepStrictEqual(await stateGrads(tf.ones([2, 3]), tf.ones([2, 1])).array(), [[2, 2, 2]]);
 * ```
 */
export function stateGrads(dZ: Tensor, Hsrc: Tensor): Tensor {
  return tf.transpose(tf.matMul(tf.transpose(dZ), Hsrc));
}

/** Scalars reused by every step, made once per call (a scalar per op costs a tensor). */
export interface Consts {
  /** 1. */
  one: Scalar;
  /** 2. */
  two: Scalar;
  /** -1. */
  minusOne: Scalar;
}

/**
 * The scalars every step reuses.
 *
 * @returns the scalars 1, 2 and -1, owned by the enclosing tidy.
 *
 * @example Made once, inside a tidy
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const two = tf.tidy(() => consts().two.clone());
 * deepStrictEqual(await two.array(), 2);
 * ```
 */
export function consts(): Consts {
  return { one: tf.scalar(1), two: tf.scalar(2), minusOne: tf.scalar(-1) };
}

/**
 * A per-column scale `[G*H]`: gate block `k` is multiplied by `factors[k]`.
 * Used to double the pre-activations of the tanh blocks, so that
 * `tanh(a) = 2*sigmoid(2a) - 1` costs one (fast, vectorised) sigmoid: tfjs
 * wasm's `tanh` is scalar code, 4-7x slower than its `sigmoid`.
 *
 * @example Double the third block
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * deepStrictEqual(await blockScale([1, 1, 2], 1).array(), [1, 1, 2]);
 * ```
 */
export function blockScale(factors: readonly number[], H: number): Tensor {
  const values = new Float32Array(factors.length * H);
  factors.forEach((f, k) => values.fill(f, k * H, (k + 1) * H));
  return tf.tensor1d(values);
}

/**
 * `2*s - 1`: tanh(a) from s = sigmoid(2a). (Adding -1: tfjs-wasm's tensor-minus-scalar
 * `sub` takes a slow broadcasting path, 2.5x the time of `add`.)
 *
 * @example tanh(0.5) from sigmoid(1)
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const y = tanhFromSigmoid(tf.sigmoid(tf.scalar(1)), consts());
 * deepStrictEqual(Math.abs((await y.array() as number) - Math.tanh(0.5)) < 1e-6, true);
 * ```
 */
export function tanhFromSigmoid(s: Tensor, c: Consts): Tensor {
  return tf.add(tf.mul(s, c.two), c.minusOne);
}

/**
 * tanh(a) as `2*sigmoid(2a) - 1` (see {@linkcode blockScale}).
 *
 * @example Same as tanh
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const y = fastTanh(tf.scalar(0.3), consts());
 * deepStrictEqual(Math.abs((await y.array() as number) - Math.tanh(0.3)) < 1e-6, true);
 * ```
 */
export function fastTanh(a: Tensor, c: Consts): Tensor {
  return tanhFromSigmoid(tf.sigmoid(tf.mul(a, c.two)), c);
}

/**
 * `s * (1 - s)`: the derivative of the sigmoid, from its output.
 *
 * @example 1/4 at the middle
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * deepStrictEqual(await sigmoidDeriv(tf.scalar(0.5), consts()).array(), 0.25);
 * ```
 */
export function sigmoidDeriv(s: Tensor, c: Consts): Tensor {
  return tf.mul(s, tf.sub(c.one, s));
}

/**
 * `1 - y*y`: the derivative of tanh, from its output.
 *
 * @example 1 at zero
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * deepStrictEqual(await tanhDeriv(tf.scalar(0), consts()).array(), 1);
 * ```
 */
export function tanhDeriv(y: Tensor, c: Consts): Tensor {
  return tf.sub(c.one, tf.mul(y, y));
}

/**
 * Stacks per-step `[B, W]` tensors into one step-major `[T*B, W]` matrix.
 *
 * @example Step-major rows
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * deepStrictEqual(await stackSteps([tf.tensor2d([[1]]), tf.tensor2d([[2]])]).array(), [[1], [2]]);
 * ```
 */
export function stackSteps(steps: readonly Tensor[]): Tensor {
  return concat2d(steps, 0);
}

/**
 * The input projection of a whole sequence in one matmul:
 * `[T*B, D] x [D, G*H] + b`, each column optionally scaled; for rows of a
 * table, `[V, D] x [D, G*H]` and the rows gathered.
 *
 * @returns `[T*B, G*H]`.
 *
 * @example X Wx + b for every row
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const XW = projectInputs(tf.ones([2, 3]), tf.ones([3, 1]), tf.ones([1]));
 * deepStrictEqual(await XW.array(), [[4], [4]]);
 * ```
 */
export function projectInputs(
  X: KernelInputs,
  Wx: Tensor,
  b: Tensor,
  scale?: Tensor,
): Tensor {
  const W = scale ? tf.mul(Wx, scale) : Wx;
  const bias = scale ? tf.mul(b, scale) : b;
  if (!isRows(X)) return tf.add(tf.matMul(X, W), bias);
  const P = tf.matMul(X.table, W); // [V, G*H]
  const withZeros = concat2d([P, tf.zeros([1, P.shape[1] as number])], 0); // row V: padding
  return tf.add(gatherRows(withZeros as Tensor2D, tf.cast(X.ids, "int32") as Tensor1D), bias);
}

/**
 * The recurrent kernel with its column blocks scaled (see {@linkcode blockScale}).
 *
 * @example No scale, the same kernel
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const W = tf.ones([1, 2]);
 * deepStrictEqual(scaleColumns(W), W);
 * ```
 */
export function scaleColumns(W: Tensor, scale?: Tensor): Tensor {
  return scale ? tf.mul(W, scale) : W;
}

/**
 * Weight gradients from pre-activation gradients `dZ` `[N, W]` (`N = T*B` rows):
 * `dWh = Hsrc^T dZ` `[H, W]`, `dWx = X^T dZ` `[D, W]`, `db = sum_rows(dZ)` `[W]`,
 * as ONE plain matmul over all rows, `dZ^T [W, N] x [Hsrc, X, 1] [N, H+D+1]`,
 * then transposed back.
 *
 * Why this orientation: tfjs-backend-wasm packs a matmul's second operand on
 * every call with a new tensor (~10 ms for a `[1120, 1024]` `dZ`, more than the
 * arithmetic of `X^T dZ`), so the small `[N, H+D+1]` block is the one packed;
 * and its transposed-operand matmuls are 15-40x slower than an explicit
 * `tf.transpose` and a plain matmul. The ones column gives `db` for free.
 *
 * @example Every weight gradient from one matmul
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const { dWh, dWx, db } = weightGrads(tf.ones([2, 3]), tf.ones([2, 1]), tf.ones([2, 4]));
 * deepStrictEqual([dWh.shape, dWx.shape, await db.array()], [[1, 3], [4, 3], [2, 2, 2]]);
 * ```
 */
export function weightGrads(
  dZ: Tensor,
  Hsrc: Tensor,
  X: Tensor,
): { dWh: Tensor; dWx: Tensor; db: Tensor } {
  const W = dZ.shape[1] as number;
  const H = Hsrc.shape[1] as number, D = X.shape[1] as number;
  const P = transposedGrads(dZ, [Hsrc, X]); // [W, H+D+1]
  return {
    dWh: tf.transpose(block(P, 0, W, 0, H)), // [H, W]
    dWx: tf.transpose(block(P, 0, W, H, D)), // [D, W]
    db: tf.reshape(block(P, 0, W, H + D, 1), [W]),
  };
}

/**
 * `dZ^T [sources..., 1]`: `[W, sum of widths + 1]`, one packed `[N, ...]` operand.
 *
 * @example With the ones column
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * deepStrictEqual(transposedGrads(tf.ones([2, 3]), [tf.ones([2, 1])]).shape, [3, 2]);
 * ```
 */
export function transposedGrads(dZ: Tensor, sources: Tensor[]): Tensor {
  const N = dZ.shape[0] as number;
  return tf.matMul(tf.transpose(dZ), concat2d([...sources, tf.ones([N, 1])], 1));
}

/**
 * `dX = dZ Wx^T` `[T, B, D]`, with an explicitly transposed `Wx`.
 *
 * @example dZ Wx^T as [T, B, D]
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const dX = inputGrad(tf.ones([6, 3]), tf.ones([4, 3]), { T: 2, B: 3, D: 4, H: 1 });
 * deepStrictEqual(dX.shape, [2, 3, 4]);
 * ```
 */
export function inputGrad(dZ: Tensor, Wx: Tensor, dims: Dims): Tensor {
  return tf.reshape(tf.matMul(dZ, tf.transpose(Wx)), [dims.T, dims.B, dims.D]);
}

/**
 * The states each step started from, step-major: `[h0; h_0; ...; h_{T-2}]`
 * `[T*B, H]`, from the initial state and the per-step states.
 *
 * @example h0 then every step but the last
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const H = previousStates(tf.tensor2d([[0]]), [tf.tensor2d([[1]]), tf.tensor2d([[2]])]);
 * deepStrictEqual(await H.array(), [[0], [1]]);
 * ```
 */
export function previousStates(h0: Tensor, steps: readonly Tensor[]): Tensor {
  return stackSteps([h0, ...steps.slice(0, steps.length - 1)]);
}

/** What the checks read of a sequence's inputs: a tensor `[T, B, D]`, or its shape and dtype (rows of a table). */
export type SequenceShape = Pick<Tensor, "rank" | "shape" | "dtype">;

/** Every tensor a sequence kernel reads: the inputs, every weight (extras too) and the state. */
function kernelTensors(
  weights: FusedWeights,
  xs: SequenceShape,
  state: State,
): (SequenceShape | undefined)[] {
  return [xs, ...Object.values(weights), state.h, state.c];
}

/**
 * Whether every tensor a sequence kernel reads is float32 (the kernels' only dtype).
 *
 * @example An int32 tensor fails it
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const w = { Wx: tf.zeros([1, 1]) as tf.Tensor2D, Wh: tf.zeros([1, 1]) as tf.Tensor2D, b: tf.zeros([1]) as tf.Tensor1D };
 * deepStrictEqual(allFloat32(w, tf.zeros([1, 1, 1]), { h: tf.zeros([1, 1]) as tf.Tensor2D }), true);
 * deepStrictEqual(allFloat32(w, tf.zeros([1, 1, 1], "int32"), { h: tf.zeros([1, 1]) as tf.Tensor2D }), false);
 * ```
 */
export function allFloat32(weights: FusedWeights, xs: SequenceShape, state: State): boolean {
  return kernelTensors(weights, xs, state).every((t) => t === undefined || t.dtype === "float32");
}

/**
 * The one shape check of the sequence kernels (`fused_sequence.ts`,
 * `webgpu/sequence.ts`): they sit below `runSequence`, which has already
 * checked its caller's input with a {@linkcode UsageError}-style message, so
 * a failure here is a bug in the library, reported as a plain Error naming
 * the kernel, the tensor and both shapes.
 *
 * @param who the kernel, first word of the message.
 * @returns the sizes.
 * @throws {Error} for a shape that does not fit the spec, or a dtype other than float32.
 *
 * @example The sizes of a sequence
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const spec = { kind: "rnn", inputSize: 2, hiddenSize: 1 };
 * const w = { Wx: tf.zeros([2, 1]) as tf.Tensor2D, Wh: tf.zeros([1, 1]) as tf.Tensor2D, b: tf.zeros([1]) as tf.Tensor1D };
 * deepStrictEqual(kernelDims("doc", spec, w, tf.zeros([5, 3, 2]), { h: tf.zeros([3, 1]) as tf.Tensor2D }), { T: 5, B: 3, D: 2, H: 1 });
 * ```
 */
export function kernelDims(
  who: string,
  spec: CellSpec,
  weights: FusedWeights,
  xs: SequenceShape,
  state: State,
): Dims {
  if (xs.rank !== 3 || (xs.shape[0] ?? 0) < 1 || (xs.shape[1] ?? 0) < 1) {
    throw new Error(`${who}: xs must be [T, B, D] with T, B >= 1, got [${xs.shape}]`);
  }
  const [T, B, D] = xs.shape as [number, number, number];
  const H = spec.hiddenSize, G = cellDefinition(spec).gates.length;
  const expect = (what: string, t: Tensor | undefined, shape: number[]) => {
    if (t === undefined || t.shape.join() !== shape.join()) {
      throw new Error(
        `${who}: ${what} must have shape [${shape}], got ${
          t === undefined ? "nothing" : `[${t.shape}]`
        }`,
      );
    }
  };
  if (D !== spec.inputSize) {
    throw new Error(`${who}: xs has ${D} inputs per step, the cell expects ${spec.inputSize}`);
  }
  expect("Wx", weights.Wx, [D, G * H]);
  expect("Wh", weights.Wh, [H, G * H]);
  expect("b", weights.b, [G * H]);
  for (const p of cellParameters(spec)) expect(p.key, weights[p.key], [p.blocks * H]);
  expect("state.h", state.h, [B, H]);
  if (state.c !== undefined) expect("state.c", state.c, [B, H]);
  if (!allFloat32(weights, xs, state)) {
    throw new Error(`${who}: every tensor must be float32`);
  }
  return { T, B, D, H };
}
