/**
 * Inverted dropout (d2l §5.6 "Dropout"): while training, every element is
 * zeroed with probability `rate` and the survivors are scaled by
 * `1 / (1 - rate)`, so the expected value of each element is unchanged.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor } from "../ops/tensors.ts";
import { UsageError } from "../errors.ts";
import { dropoutMultiplier } from "../kernels/dropout_mask.ts";

/** Options of {@linkcode dropout}. */
export interface DropoutOptions {
  /** Whether dropout is active; when false, `x` passes through. */
  training: boolean;
  /** Seed of the mask: the same seed and shape give the same mask on every backend. @default unseeded */
  seed?: number;
}

/**
 * Inverted dropout of `x`.
 *
 * @param x any float tensor (not disposed).
 * @param rate the probability of zeroing an element, in [0, 1).
 * @returns when `training` and `rate > 0`, a new tensor the caller disposes;
 *   otherwise `x` itself (no copy, like PyTorch's `F.dropout` in eval mode):
 *   dispose the result or `x`, not both.
 * @throws {UsageError} for a rate outside [0, 1).
 *
 * @example Same seed, same mask; identity when not training
 * ```ts
 * import { deepStrictEqual, strictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { dropout } from "./dropout.ts";
 * const x = tf.ones([4, 8]);
 * const a = dropout(x, 0.5, { training: true, seed: 3 });
 * const b = dropout(x, 0.5, { training: true, seed: 3 });
 * deepStrictEqual(await a.data(), await b.data()); // zeros and 2s, the same ones
 * strictEqual(dropout(x, 0.5, { training: false }), x);
 * tf.dispose([a, b, x]);
 * ```
 */
export function dropout<T extends Tensor>(x: T, rate: number, options: DropoutOptions): T {
  if (!(rate >= 0 && rate < 1)) {
    throw new UsageError(`Cannot apply dropout: rate is ${rate}, expected a number in [0, 1)`);
  }
  if (!options.training || rate === 0) return x;
  // The multiplier is 0 or 1/keep: tf.dropout's, from the same noise (one C loop on native).
  return tf.tidy(() => tf.mul(x, dropoutMultiplier(x.shape, rate, options.seed)) as T);
}
