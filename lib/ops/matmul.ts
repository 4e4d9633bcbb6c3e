/**
 * A (batched) matmul whose gradient uses only plain matmuls against
 * explicitly transposed operands: tfjs's own gradient multiplies with
 * `transposeA`/`transposeB`, which tfjs-backend-wasm runs 15-40x slower.
 * A backend whose matmul reads transposed operands as they are stored (the
 * native one's GEMM) declares so, and there the flags replace the copies.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { GradSaveFunc, Tensor, Tensor2D, Tensor3D } from "./tensors.ts";

/** Backends whose matmul is as fast with `transposeA`/`transposeB` as without. */
const transposingBackends = new Set<string>();

/**
 * Declares that a backend's matmul reads transposed operands at full speed:
 * the gradients here then pass the flags instead of transposed copies.
 *
 * @example What the native backend declares when it registers
 * ```ts
 * declareTransposingMatMul("native");
 * ```
 */
export function declareTransposingMatMul(backendName: string): void {
  transposingBackends.add(backendName);
}

/** Whether the active backend's matmul takes transposed operands as they are. */
function transposesInPlace(): boolean {
  return transposingBackends.has(tf.getBackend());
}

/** The perm that swaps the last two axes of a rank-2 or rank-3 tensor. */
function swapLast(rank: number): number[] {
  return rank === 2 ? [1, 0] : [0, 2, 1];
}

/**
 * `a b` for `a [N, K], b [K, M]` or `a [B, N, K], b [B, K, M]`, differentiable
 * in both operands.
 *
 * @returns `[N, M]` or `[B, N, M]`, owned by the caller.
 *
 * @example A batched matmul
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { matMul } from "./matmul.ts";
 * const y = matMul(tf.ones([2, 3, 4]) as tf.Tensor3D, tf.ones([2, 4, 5]) as tf.Tensor3D);
 * deepStrictEqual(y.shape, [2, 3, 5]);
 * ```
 */
export function matMul<T extends Tensor2D | Tensor3D>(a: T, b: T): T {
  const r = a.rank;
  if (
    (r !== 2 && r !== 3) || b.rank !== r || a.shape[r - 1] !== b.shape[r - 2] ||
    (r === 3 && a.shape[0] !== b.shape[0])
  ) {
    throw new Error(
      `matMul: expected [N, K] x [K, M] or [B, N, K] x [B, K, M], got [${a.shape}] x [${b.shape}]`,
    );
  }
  const op = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const [ai, bi, save] = args as [T, T, GradSaveFunc];
    save([ai, bi]);
    return {
      value: tf.matMul(ai, bi),
      gradFunc: (dy: Tensor, saved: Tensor[]) =>
        tf.tidy(() => {
          const [as, bs] = saved;
          if (transposesInPlace()) {
            return [tf.matMul(dy as T, bs as T, false, true), tf.matMul(as as T, dy as T, true)];
          }
          const perm = swapLast(r);
          return [
            tf.matMul(dy as T, tf.transpose(bs, perm) as T), // da [.., N, K]
            tf.matMul(tf.transpose(as, perm) as T, dy as T), // db [.., K, M]
          ];
        }),
    };
  });
  return op(a, b) as T;
}

/**
 * `a b` for `a [N, K]` that is a constant (one-hot rows, a mask): the same
 * value as {@linkcode matMul}, differentiable in `b` only, so the backward
 * pass skips the product for `a`'s gradient (as large as `a`, and unused).
 *
 * @returns `[N, M]`, owned by the caller.
 *
 * @example Rows of a table picked by one-hot rows
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const table = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
 * const rows = matMulOfConstant(tf.oneHot(tf.tensor1d([2, 0], "int32"), 3).toFloat() as tf.Tensor2D, table);
 * deepStrictEqual(await rows.array(), [[5, 6], [1, 2]]);
 * const dTable = tf.grad((t) => matMulOfConstant(tf.tensor2d([[0, 1, 0]]), t as tf.Tensor2D).sum())(table);
 * deepStrictEqual(await dTable.array(), [[0, 0], [1, 1], [0, 0]]);
 * ```
 */
export function matMulOfConstant(a: Tensor2D, b: Tensor2D): Tensor2D {
  if (a.rank !== 2 || b.rank !== 2 || a.shape[1] !== b.shape[0]) {
    throw new Error(`matMulOfConstant: expected [N, K] x [K, M], got [${a.shape}] x [${b.shape}]`);
  }
  const op = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const [bi, save] = args as [Tensor2D, GradSaveFunc];
    save([a]); // kept for the backward pass (the caller may free its own)
    return {
      value: tf.matMul(a, bi),
      gradFunc: (dy: Tensor, saved: Tensor[]) =>
        tf.tidy(() => {
          const as = saved[0] as Tensor2D;
          if (transposesInPlace()) return tf.matMul(as, dy as Tensor2D, true);
          return tf.matMul(tf.transpose(as) as Tensor2D, dy as Tensor2D);
        }),
    };
  });
  return op(b) as Tensor2D;
}
