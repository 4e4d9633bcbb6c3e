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

/** Whether the inputs are rows of a table. */
export function isRows(X: KernelInputs): X is TableRows {
  return !(X instanceof tf.Tensor);
}

/** The kernel's inputs from the op's: `xs` `[T, B, D]` as `X`, or the table and the ids (last). */
export function kernelInputs(inputs: Tensor[], dims: Dims): KernelInputs {
  if (dims.rows) return { table: inputs[0], ids: inputs[inputs.length - 1] };
  return tf.reshape(inputs[0], [dims.T * dims.B, dims.D]);
}

/** The tensors a kernel saves for its inputs (first in its saved list). */
export function savedInputs(X: KernelInputs): Tensor[] {
  return isRows(X) ? [X.table, X.ids] : [X];
}

/** The inverse of {@linkcode savedInputs}: the inputs, and the rest of the saved list. */
export function fromSaved(saved: Tensor[], dims: Dims): [KernelInputs, Tensor[]] {
  return dims.rows
    ? [{ table: saved[0], ids: saved[1] }, saved.slice(2)]
    : [saved[0], saved.slice(1)];
}

/**
 * The input side's gradients for rows of a table, from the input
 * pre-activations' gradient `dZx` `[T*B, W]`: rows of the same id summed into
 * `dP` `[V, W]`, then `dTable = dP Wx^T`, `dWx = table^T dP`, `db = sum(dZx)`.
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

/** `Hsrc^T dZ` `[H, W]`: a recurrent kernel's gradient alone (rows mode, where X has its own). */
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
 */
export function consts(): Consts {
  return { one: tf.scalar(1), two: tf.scalar(2), minusOne: tf.scalar(-1) };
}

/**
 * A per-column scale `[G*H]`: gate block `k` is multiplied by `factors[k]`.
 * Used to double the pre-activations of the tanh blocks, so that
 * `tanh(a) = 2*sigmoid(2a) - 1` costs one (fast, vectorised) sigmoid: tfjs
 * wasm's `tanh` is scalar code, 4-7x slower than its `sigmoid`.
 */
export function blockScale(factors: readonly number[], H: number): Tensor {
  const values = new Float32Array(factors.length * H);
  factors.forEach((f, k) => values.fill(f, k * H, (k + 1) * H));
  return tf.tensor1d(values);
}

/**
 * `2*s - 1`: tanh(a) from s = sigmoid(2a). (Adding -1: tfjs-wasm's tensor-minus-scalar
 * `sub` takes a slow broadcasting path, 2.5x the time of `add`.)
 */
export function tanhFromSigmoid(s: Tensor, c: Consts): Tensor {
  return tf.add(tf.mul(s, c.two), c.minusOne);
}

/** tanh(a) as `2*sigmoid(2a) - 1` (see {@linkcode blockScale}). */
export function fastTanh(a: Tensor, c: Consts): Tensor {
  return tanhFromSigmoid(tf.sigmoid(tf.mul(a, c.two)), c);
}

/** `s * (1 - s)`: the derivative of the sigmoid, from its output. */
export function sigmoidDeriv(s: Tensor, c: Consts): Tensor {
  return tf.mul(s, tf.sub(c.one, s));
}

/** `1 - y*y`: the derivative of tanh, from its output. */
export function tanhDeriv(y: Tensor, c: Consts): Tensor {
  return tf.sub(c.one, tf.mul(y, y));
}

/** Stacks per-step `[B, W]` tensors into one step-major `[T*B, W]` matrix. */
export function stackSteps(steps: readonly Tensor[]): Tensor {
  return concat2d(steps, 0);
}

/**
 * The input projection of a whole sequence in one matmul:
 * `[T*B, D] x [D, G*H] + b`, each column optionally scaled; for rows of a
 * table, `[V, D] x [D, G*H]` and the rows gathered.
 *
 * @returns `[T*B, G*H]`.
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

/** `dZ^T [sources..., 1]`: `[W, sum of widths + 1]`, one packed `[N, ...]` operand. */
export function transposedGrads(dZ: Tensor, sources: Tensor[]): Tensor {
  const N = dZ.shape[0] as number;
  return tf.matMul(tf.transpose(dZ), concat2d([...sources, tf.ones([N, 1])], 1));
}

/** `dX = dZ Wx^T` `[T, B, D]`, with an explicitly transposed `Wx`. */
export function inputGrad(dZ: Tensor, Wx: Tensor, dims: Dims): Tensor {
  return tf.reshape(tf.matMul(dZ, tf.transpose(Wx)), [dims.T, dims.B, dims.D]);
}

/**
 * The states each step started from, step-major: `[h0; h_0; ...; h_{T-2}]`
 * `[T*B, H]`, from the initial state and the per-step states.
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

/** Whether every tensor a sequence kernel reads is float32 (the kernels' only dtype). */
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
