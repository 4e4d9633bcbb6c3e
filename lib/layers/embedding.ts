/**
 * A token embedding (d2l §10.7 "Sequence-to-Sequence Learning", PyTorch's
 * `nn.Embedding`): a trainable table `[V, E]` whose row `i` is the vector of
 * token `i`, with an optional padding id whose row is zero and never trained.
 *
 * The gradient is written by hand: tfjs's own gradient of `tf.gather` needs
 * the `UnsortedSegmentSum` kernel, which tfjs-backend-wasm 4.22 lacks. Here
 * the rows of `dy` are summed into the table's shape with `tf.scatterND`
 * (duplicate ids accumulate), which cpu, wasm and webgpu all have.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type {
  GradSaveFunc,
  Tensor,
  Tensor1D,
  Tensor2D,
  Tensor3D,
  Variable,
  Variable2D,
} from "../ops/tensors.ts";
import { UsageError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { gatherRows } from "../kernels/gather_rows.ts";
import type { SequenceRows } from "../kernels/fused_sequence.ts";

/** Options of {@linkcode embedding}. */
export interface EmbeddingOptions {
  /** V, the number of token ids (rows of the table). */
  vocabSize: number;
  /** E, the width of each vector. */
  size: number;
  /** A token id whose row starts at zero and gets no gradient (PyTorch's `padding_idx`). */
  paddingId?: number;
  /** Seed of the initial table. @default 0 */
  seed?: number;
  /** Standard deviation of the initial rows, N(0, std²): PyTorch's `nn.Embedding`, as d2l uses it. @default 1 */
  std?: number;
  /**
   * The random stream to draw the table from instead of one seeded by `seed`,
   * for a model that builds its layers in turn from one stream.
   */
  rng?: Rng;
}

/**
 * A batch of ids to look up: an int32 tensor of any rank, or plain JS ids
 * (checked against the vocabulary). Not corpus's `TokenIds` (a token stream).
 */
export type IdBatch = Tensor | Int32Array | number[] | number[][];

/** What {@linkcode embedding} returns. */
export interface Embedding {
  /** V. */
  readonly vocabSize: number;
  /** E. */
  readonly size: number;
  /** The padding id, when there is one. */
  readonly paddingId?: number;
  /** The table `[V, E]`. */
  readonly table: Variable2D;
  /** `[table]`. */
  readonly trainableVariables: Variable[];
  /**
   * Looks up the vectors of `ids`.
   *
   * @param ids an int32 tensor of any rank (not disposed; its values are not
   *   checked: an id outside [0, V) throws on cpu and reads zeros or garbage
   *   on wasm and webgpu), or JS ids, nested at most twice.
   * @returns float32 `[...ids.shape, E]`, a new tensor the caller disposes.
   * @throws {UsageError} for a tensor that is not int32, or a JS id that is
   *   not an integer in [0, V).
   */
  apply(ids: IdBatch): Tensor;
  /**
   * The ids of a sequence batch as rows of the table, for a recurrent stack
   * to fold this embedding into its input projection (see `SequenceRows`):
   * the same result as `forward(apply(ids))`, a fraction of the work. The
   * padding id reads the zero row past the table, so its own row still gets
   * no gradient.
   *
   * @param ids time-major `[T * B]` JS ids (row `t * B + b` is step t of sequence b), each checked.
   * @throws {UsageError} for an id that is not an integer in [0, V), or a count other than T * B.
   */
  rows(ids: ArrayLike<number>, T: number, B: number): SequenceRows;
  /**
   * What a recurrent stack should read for a sequence batch: {@linkcode rows}
   * when the table has no more rows than the batch has steps (`V <= T * B`:
   * projecting the table is the smaller matmul), else the looked-up vectors
   * `[T, B, E]` (a large word vocabulary). The same values either way.
   *
   * @param ids time-major `[T * B]` JS ids, each checked.
   */
  sequenceInput(ids: ArrayLike<number>, T: number, B: number): SequenceRows | Tensor3D;
  /** Frees the table. */
  dispose(): void;
}

/**
 * A token embedding with its table in a variable.
 *
 * @example Look up a batch of ids; the padding row is zero
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { embedding } from "./embedding.ts";
 * const embed = embedding({ vocabSize: 5, size: 3, paddingId: 0, seed: 1 });
 * const xs = embed.apply([[0, 4], [2, 0]]); // [B=2, T=2] -> [2, 2, 3]
 * deepStrictEqual(xs.shape, [2, 2, 3]);
 * deepStrictEqual(Array.from((await xs.data()).slice(0, 3)), [0, 0, 0]);
 * xs.dispose();
 * embed.dispose();
 * ```
 */
export function embedding(options: EmbeddingOptions): Embedding {
  const { vocabSize: V, size: E, paddingId, seed = 0, std = 1 } = options;
  const action = "Cannot build an embedding";
  for (const [name, value] of [["vocabSize", V], ["size", E]] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new UsageError(`${action}: ${name} is ${value}, expected an integer >= 1`);
    }
  }
  if (
    paddingId !== undefined && !(Number.isInteger(paddingId) && paddingId >= 0 && paddingId < V)
  ) {
    throw new UsageError(`${action}: paddingId is ${paddingId}, expected an integer in [0, ${V})`);
  }
  if (!(Number.isFinite(std) && std >= 0)) {
    throw new UsageError(`${action}: std is ${std}, expected a finite number >= 0`);
  }
  const rng = options.rng ?? new Rng(seed);
  const values = new Float32Array(V * E);
  for (let i = 0; i < values.length; i++) values[i] = std * rng.normal();
  if (paddingId !== undefined) values.fill(0, paddingId * E, (paddingId + 1) * E);
  const table = tf.variable(tf.tensor2d(values, [V, E]), true);
  return {
    vocabSize: V,
    size: E,
    paddingId,
    table,
    trainableVariables: [table],
    apply: (ids) => embeddingLookup(table, ids, paddingId),
    rows: (ids, T, B) => tableRows(table, ids, T, B, paddingId),
    sequenceInput: (ids, T, B) =>
      V <= T * B
        ? tableRows(table, ids, T, B, paddingId)
        : tf.reshape(embeddingLookup(table, Int32Array.from(ids), paddingId), [
          T,
          B,
          E,
        ]) as Tensor3D,
    dispose: () => table.dispose(),
  };
}

/** {@linkcode Embedding.rows}: checked ids as float32 `[T, B]`, the padding id sent to row V. */
function tableRows(
  table: Variable2D,
  ids: ArrayLike<number>,
  T: number,
  B: number,
  paddingId?: number,
): SequenceRows {
  const V = table.shape[0];
  if (ids.length !== T * B) {
    throw new UsageError(`Cannot look up embeddings: ${ids.length} ids, expected T * B = ${T * B}`);
  }
  const values = new Float32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(Number.isInteger(id) && id >= 0 && id < V)) {
      throw new UsageError(
        `Cannot look up embeddings: id ${id} at ${i} is not an integer in [0, ${V})`,
      );
    }
    values[i] = id === paddingId ? V : id;
  }
  return { table, ids: tf.tensor2d(values, [T, B]) };
}

/**
 * The rows of a table at `ids`, with the scatter gradient (see the module
 * doc): what {@linkcode embedding}'s `apply` does, for a model that owns its
 * table (the language model).
 *
 * @param table `[V, E]`.
 * @param ids int32 ids of any shape (or JS ids, checked against `V`).
 * @param paddingId rows of this id get no gradient.
 * @returns `[...ids.shape, E]`, a new tensor.
 *
 * @example Rows of a table
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const table = tf.variable(tf.tensor2d([[0, 0], [1, 2], [3, 4]]));
 * deepStrictEqual(await embeddingLookup(table, [[2, 1]]).array(), [[[3, 4], [1, 2]]]);
 * ```
 */
export function embeddingLookup(
  table: Variable2D,
  ids: IdBatch,
  paddingId?: number,
): Tensor {
  const [V, E] = table.shape;
  return tf.tidy(() => {
    const idTensor = ids instanceof tf.Tensor ? checkTensor(ids) : idsFromJs(ids, V);
    const shape = idTensor.shape;
    const flat = tf.reshape(idTensor, [-1]) as Tensor1D; // [N]
    const op = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
      const [t, save] = args as [Tensor2D, GradSaveFunc];
      save([flat]); // kept for the backward pass, after this tidy has ended
      return {
        value: gatherRows(t, flat), // [N, E]
        gradFunc: (dy: Tensor2D, saved: Tensor[]) =>
          tf.tidy(() => {
            const at = saved[0] as Tensor1D; // [N]
            const rows = paddingId === undefined
              ? dy
              : tf.mul(dy, tf.expandDims(tf.cast(tf.notEqual(at, paddingId), "float32"), 1));
            // Rows of the same id are summed; the padding id's rows are zeros.
            return [tf.scatterND(tf.expandDims(at, 1), rows, [V, E])]; // [V, E]
          }),
      };
    });
    return tf.reshape(op(table), [...shape, E]); // [...ids.shape, E]
  });
}

function checkTensor(ids: Tensor): Tensor {
  if (ids.dtype !== "int32") {
    throw new UsageError(`Cannot look up embeddings: ids have dtype ${ids.dtype}, expected int32`);
  }
  return ids;
}

/** JS ids as an int32 tensor, every id checked. */
function idsFromJs(ids: Int32Array | number[] | number[][], V: number): Tensor {
  const nested = Array.isArray(ids) && ids.length > 0 && Array.isArray(ids[0]);
  const rows = nested ? ids as number[][] : [ids as ArrayLike<number>];
  const width = rows[0].length;
  for (const row of rows) {
    if (!(row instanceof Int32Array) && !Array.isArray(row)) {
      throw new UsageError(`Cannot look up embeddings: ids mix numbers and arrays`);
    }
    if (row.length !== width) {
      throw new UsageError(
        `Cannot look up embeddings: ids have rows of lengths ${width} and ${row.length}, expected equal lengths`,
      );
    }
    for (const id of row) {
      if (!Number.isInteger(id) || id < 0 || id >= V) {
        throw new UsageError(
          `Cannot look up embeddings: id ${id} is out of range, expected an integer in [0, ${V})`,
        );
      }
    }
  }
  const data = Int32Array.from(rows.flatMap((row) => Array.from(row)));
  return tf.tensor(data, nested ? [rows.length, width] : [width], "int32");
}
