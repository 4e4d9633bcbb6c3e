/**
 * A (batched) matmul whose gradient uses only plain matmuls against
 * explicitly transposed operands: tfjs's own gradient multiplies with
 * `transposeA`/`transposeB`, which tfjs-backend-wasm runs 15-40x slower.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { GradSaveFunc, Tensor, Tensor2D, Tensor3D } from "./tensors.ts";

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
