/**
 * The sum of a tensor's squared entries, the piece of a global gradient norm:
 * one C pass over the values on the native backend (no squared copy of every
 * gradient, no float64 loop in JavaScript), `sum(square(x))` elsewhere.
 *
 * @module
 */
import type { Scalar, Tensor } from "../ops/tensors.ts";
import { tf } from "../tf.ts";
import { nativeKernels, valuesOf } from "../native/backend.ts";

/**
 * `sum(x²)` over every entry, a float32 scalar the caller disposes. Not
 * differentiable (a norm for clipping needs no gradient).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const s = sumOfSquares(tf.tensor([3, 4]));
 * strictEqual((await s.data())[0], 25);
 * ```
 */
export function sumOfSquares(x: Tensor): Scalar {
  const lib = nativeKernels();
  if (!lib || x.dtype !== "float32") return tf.tidy(() => tf.sum(tf.square(x)) as Scalar);
  const values = valuesOf(tf.backend(), x);
  return tf.scalar(lib.rnn_sum_squares(BigInt(values.length), values));
}
