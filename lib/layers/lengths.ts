/**
 * Variable-length batches: the masks and index maps that give a padded,
 * time-major batch `[T, B, ·]` the meaning of PyTorch's packed sequences.
 * Sequence `b` is real at steps `t < lengths[b]`; the rest is padding.
 *
 * Everything here is built from tensor ops, so a `lengths` tensor never has
 * to be read back (no GPU sync), and every function is differentiable where
 * it takes a float tensor.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { GradSaveFunc, Tensor, Tensor1D, Tensor2D, Tensor3D } from "../ops/tensors.ts";
import { UsageError } from "../errors.ts";

/** Per-sequence lengths `[B]`: a plain array, an `Int32Array` or an int32 tensor. */
export type Lengths = readonly number[] | Int32Array | Tensor1D;

/**
 * Checks lengths against a batch: array values one by one (integers in
 * `1..T`); a tensor's shape and dtype, its values trusted (reading them back
 * would stall the GPU).
 *
 * @param action the start of an error message, e.g. "Cannot run a gru cell".
 * @throws {UsageError} naming the bad entry, its value and what is allowed.
 *
 * @example A length past T is refused
 * ```ts
 * import { throws } from "node:assert";
 * checkLengths([3, 1], 3, 2, "Cannot run");
 * throws(() => checkLengths([4, 1], 3, 2, "Cannot run"), /lengths\[0\] is 4/);
 * ```
 */
export function checkLengths(lengths: Lengths, T: number, B: number, action: string): void {
  if (lengths instanceof tf.Tensor) {
    if (lengths.rank !== 1 || lengths.shape[0] !== B || lengths.dtype !== "int32") {
      throw new UsageError(
        `${action}: lengths is a ${lengths.dtype} tensor of shape [${lengths.shape}],` +
          ` expected int32 [${B}] (one length per sequence)`,
      );
    }
    return;
  }
  if (lengths.length !== B) {
    throw new UsageError(
      `${action}: lengths has ${lengths.length} entries, expected ${B} (one per sequence)`,
    );
  }
  lengths.forEach((n, b) => {
    if (!Number.isInteger(n) || n < 1 || n > T) {
      throw new UsageError(
        `${action}: lengths[${b}] is ${n}, expected an integer in 1..${T} (the padded length)`,
      );
    }
  });
}

/**
 * Checks lengths against a batch (see {@linkcode checkLengths}) and returns
 * them as an int32 tensor `[B]`.
 *
 * @returns a new tensor the caller disposes (also when given a tensor).
 *
 * @example Plain lengths to an int32 tensor
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const lengths = lengthsTensor([3, 1], 3, 2, "Cannot run");
 * deepStrictEqual(Array.from(await lengths.data()), [3, 1]);
 * ```
 */
export function lengthsTensor(lengths: Lengths, T: number, B: number, action: string): Tensor1D {
  checkLengths(lengths, T, B, action);
  return lengths instanceof tf.Tensor
    ? tf.clone(lengths)
    : tf.tensor1d(Int32Array.from(lengths), "int32");
}

/**
 * Whether every length is `T`: nothing to mask.
 *
 * @example Only when every sequence is T steps long
 * ```ts
 * import { ok } from "node:assert";
 * ok(allFull([3, 3], 3) && !allFull([3, 2], 3));
 * ```
 */
export function allFull(lengths: ArrayLike<number>, T: number): boolean {
  return Array.prototype.every.call(lengths, (n) => n === T);
}

/**
 * A mask of lengths known in JS, built as a typed array and uploaded whole:
 * bool `[T, B, width]`, true where `t < lengths[b]` (`real`) or at
 * `t = lengths[b] - 1` (`last`). Full-shape masks spare the selects a
 * broadcast, which tfjs runs as a Tile (about 25 ms for `[35, 32, 256]` on
 * wasm, as long as the fused sequence itself).
 *
 * @param lengths checked lengths, each in `1..T`.
 * @returns a new tensor.
 *
 * @example Real and last steps of two sequences
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(await fullStepMask([2, 1], 2, 1, "real").array(), [[[1], [1]], [[1], [0]]]);
 * deepStrictEqual(await fullStepMask([2, 1], 2, 1, "last").array(), [[[0], [1]], [[1], [0]]]);
 * ```
 */
export function fullStepMask(
  lengths: ArrayLike<number>,
  T: number,
  width: number,
  which: "real" | "last",
): Tensor3D {
  const B = lengths.length;
  const mask = new Uint8Array(T * B * width);
  for (let b = 0; b < B; b++) {
    const [from, to] = which === "real" ? [0, lengths[b]] : [lengths[b] - 1, lengths[b]];
    for (let t = from; t < to; t++) mask.fill(1, (t * B + b) * width, (t * B + b + 1) * width);
  }
  return tf.tensor3d(mask, [T, B, width], "bool");
}

/** `t` as a column `[T, 1]` (int32), compared against lengths `[1, B]` below. */
function stepColumn(T: number): Tensor2D {
  return tf.reshape(tf.range(0, T, 1, "int32"), [T, 1]) as Tensor2D;
}

/**
 * Which steps are real: `mask[t, b] = t < lengths[b]`.
 *
 * @param lengths int32 `[B]`.
 * @returns bool `[T, B]`, a new tensor.
 *
 * @example Which steps are real
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const mask = stepMask(tf.tensor1d([2, 1], "int32"), 3);
 * deepStrictEqual(await mask.array(), [[1, 1], [1, 0], [0, 0]]); // bool tensors read back as 1/0
 * ```
 */
export function stepMask(lengths: Tensor1D, T: number): Tensor2D {
  return tf.tidy(() => tf.less(stepColumn(T), tf.reshape(lengths, [1, -1])) as Tensor2D);
}

/**
 * The last real step of each sequence as a mask: true at `t = lengths[b] - 1`.
 *
 * @param lengths int32 `[B]`.
 * @returns bool `[T, B, 1]`, a new tensor.
 *
 * @example Each sequence's last step
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const last = lastStepMask(tf.tensor1d([2, 1], "int32"), 2);
 * deepStrictEqual(await last.array(), [[[0], [1]], [[1], [0]]]); // bool, read back as 1/0
 * ```
 */
export function lastStepMask(lengths: Tensor1D, T: number): Tensor3D {
  return tf.tidy(() => {
    const last = tf.sub(tf.reshape(lengths, [1, -1]), tf.scalar(1, "int32")); // [1, B]
    return tf.expandDims(tf.equal(stepColumn(T), last), 2) as Tensor3D;
  });
}

/**
 * Picks each sequence's row at its last real step: `out[b] = seq[lengths[b]-1, b]`.
 * A select and a sum rather than a gather, so its gradient is plain
 * elementwise work on every backend; what the other steps hold (even Inf or
 * NaN) does not reach the result.
 *
 * @param seq `[T, B, W]`.
 * @param last the mask from {@linkcode lastStepMask}, `[T, B, 1]`, or a full-width one `[T, B, W]`.
 * @returns `[B, W]`, a new tensor.
 *
 * @example The output at each sequence's last step
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const seq = tf.tensor3d([[[1], [2]], [[3], [4]]]); // [T=2, B=2, 1]
 * const out = atLastStep(seq, lastStepMask(tf.tensor1d([2, 1], "int32"), 2));
 * deepStrictEqual(await out.array(), [[3], [2]]);
 * ```
 */
export function atLastStep(seq: Tensor3D, last: Tensor3D): Tensor2D {
  return tf.tidy(() => {
    const full = last.shape[2] === seq.shape[2] ? last : tf.broadcastTo(last, seq.shape);
    return tf.sum(tf.where(full, seq, tf.zerosLike(seq)), 0) as Tensor2D;
  });
}

/**
 * Row indices that reverse each sequence within its own length and leave the
 * padding where it is: step `t < L` of sequence `b` reads step `L-1-t`.
 * A permutation that is its own inverse.
 *
 * @returns int32 `[T*B]` indices into the step-major rows of `[T*B, W]`.
 */
function reversalIndices(lengths: Tensor1D, T: number, B: number): Tensor1D {
  return tf.tidy(() => {
    const t = stepColumn(T); // [T, 1]
    const L = tf.reshape(lengths, [1, B]); // [1, B]
    const b = tf.reshape(tf.range(0, B, 1, "int32"), [1, B]);
    const Bs = tf.scalar(B, "int32");
    const reversed = tf.add(tf.mul(tf.sub(tf.sub(L, tf.scalar(1, "int32")), t), Bs), b); // [T, B]
    const inPlace = tf.add(tf.mul(t, Bs), b); // [T, B]
    return tf.reshape(tf.where(tf.less(t, L), reversed, inPlace), [T * B]) as Tensor1D;
  });
}

/**
 * Reverses each sequence of a padded batch within its own length (the input
 * of a reverse-direction layer starts at each sequence's last real step);
 * padded steps stay in place. Applying it twice gives the batch back, and its
 * gradient is the same reversal, so it costs one gather each way.
 *
 * @param xs `[T, B, W]`.
 * @param lengths int32 `[B]`.
 * @returns `[T, B, W]`, a new tensor. Differentiable in `xs`.
 *
 * @example Reversed within each length
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const xs = tf.tensor3d([[[1], [4]], [[2], [9]], [[3], [9]]]); // lengths 3 and 1
 * const r = reverseWithinLengths(xs, tf.tensor1d([3, 1], "int32"));
 * deepStrictEqual(await r.array(), [[[3], [4]], [[2], [9]], [[1], [9]]]);
 * ```
 */
export function reverseWithinLengths(xs: Tensor3D, lengths: Tensor1D): Tensor3D {
  const [T, B, W] = xs.shape;
  const permute = (x: Tensor, indices: Tensor) =>
    tf.reshape(tf.gather(tf.reshape(x, [T * B, W]), indices), [T, B, W]);
  return tf.tidy(() => {
    // The indices are made inside the op and saved, so the backward pass finds them alive.
    const op = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
      const [x, save] = args as [Tensor, GradSaveFunc];
      const indices = reversalIndices(lengths, T, B);
      save([indices]);
      return {
        value: permute(x, indices),
        gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => permute(dy as Tensor, saved[0]),
      };
    });
    return op(xs) as Tensor3D;
  });
}
