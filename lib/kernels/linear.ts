/**
 * A dense layer `x W + b` with a hand-written gradient that uses only plain
 * matmuls against explicitly transposed operands.
 *
 * tfjs's own matmul gradient multiplies with `transposeA`/`transposeB`, which
 * tfjs-backend-wasm runs 10-25x slower than a transpose plus a plain matmul:
 * for the d2l character model's output layer (`[1120, 256] x [256, 28]`) that
 * is ~20 ms of every training step on wasm, against ~1.5 ms here.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { GradSaveFunc, Tensor, Tensor1D, Tensor2D } from "../ops/tensors.ts";

/**
 * `x W + b`, differentiable (gradients reach `x`, `W` and `b`, which may be
 * `tf.Variable`s), on every backend.
 *
 * @param x inputs `[N, K]`.
 * @param W kernel `[K, M]`.
 * @param b bias `[M]`.
 * @returns `[N, M]`, owned by the caller.
 *
 * @example x W + b
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { linear } from "./linear.ts";
 * const y = linear(tf.ones([2, 3]) as tf.Tensor2D, tf.ones([3, 4]) as tf.Tensor2D, tf.zeros([4]) as tf.Tensor1D);
 * deepStrictEqual(y.shape, [2, 4]);
 * ```
 */
export function linear(x: Tensor2D, W: Tensor2D, b: Tensor1D): Tensor2D {
  if (
    x.rank !== 2 || W.rank !== 2 || b.rank !== 1 || x.shape[1] !== W.shape[0] ||
    b.shape[0] !== W.shape[1]
  ) {
    throw new Error(
      `linear: expected x [N, K], W [K, M], b [M], got x [${x.shape}], W [${W.shape}], b [${b.shape}]`,
    );
  }
  const op = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const [xi, Wi, bi, save] = args as [Tensor2D, Tensor2D, Tensor1D, GradSaveFunc];
    save([xi, Wi]);
    return {
      value: tf.add(tf.matMul(xi, Wi), bi) as Tensor2D,
      gradFunc: (dy: Tensor2D, saved: Tensor[]) =>
        tf.tidy(() => {
          const [xs, Ws] = saved as Tensor2D[];
          return [
            tf.matMul(dy, tf.transpose(Ws)), // dx [N, K]
            tf.matMul(tf.transpose(xs), dy), // dW [K, M]
            tf.sum(dy, 0), // db [M]
          ];
        }),
    };
  });
  return op(x, W, b) as Tensor2D;
}
