/**
 * `tf.broadcastTo` without its Tile: tfjs-backend-wasm's Tile copies element
 * by element (about 29 ms for `[35, 32, 256]`), while an add to zeros
 * broadcasts natively in about a sixth of that. Differentiable: the add's
 * gradient sums over the broadcast axes, as broadcastTo's does.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor } from "./tensors.ts";

/**
 * `x` broadcast to `shape` (numpy rules), as a new tensor.
 *
 * @example A row repeated three times
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { expandTo } from "./broadcast.ts";
 * const y = expandTo(tf.tensor2d([[1, 2]]), [3, 2]);
 * deepStrictEqual(await y.array(), [[1, 2], [1, 2], [1, 2]]);
 * ```
 */
export function expandTo(x: Tensor, shape: number[]): Tensor {
  return tf.tidy(() => tf.add(tf.zeros(shape, x.dtype), x));
}
