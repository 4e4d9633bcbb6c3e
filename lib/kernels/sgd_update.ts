/**
 * Plain SGD applied in place on the native backend: `p += (-lr) g` in one C
 * pass over the variable's own values, instead of tfjs's product and sum,
 * each a fresh copy of the variable (page faults on every step for a large
 * one).
 *
 * @module
 */
import type { Tensor, Variable } from "../ops/tensors.ts";
import { tf } from "../tf.ts";
import {
  checkLength,
  cpuBackendOf,
  nativeKernels,
  sharesMemory,
  valuesOf,
} from "../native/backend.ts";

/**
 * Updates `variable` in place by `-learningRate * gradient` when the native
 * backend is active and nothing else shares the variable's values; returns
 * whether it did (else the caller updates it as tfjs does). The result equals
 * tfjs's `value + (-lr) * gradient` to the bit; with `gradScale`, the gradient
 * is first multiplied by it in float32, as `tf.mul(gradient, scale)` would (a
 * clip's factor, without the scaled copy).
 *
 * @example Off the native backend nothing is done
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const v = tf.variable(tf.tensor([1, 2]));
 * strictEqual(sgdUpdateInPlace(v, tf.tensor([1, 1]), 0.5), tf.getBackend() === "native");
 * ```
 */
export function sgdUpdateInPlace(
  variable: Variable,
  gradient: Tensor,
  learningRate: number,
  gradScale = 1,
): boolean {
  const lib = nativeKernels();
  if (!lib || variable.dtype !== "float32" || gradient.dtype !== "float32") return false;
  const backend = cpuBackendOf({ backend: tf.backend() });
  // A value shared with another tensor (a clone keeps the same data) must not change under it.
  if (backend.refCount(variable.dataId) !== 1) return false;
  const p = valuesOf(backend, variable), g = valuesOf(backend, gradient);
  // Nor one a slice's view shares (or that is itself a view of another tensor's memory).
  if (sharesMemory(p)) return false;
  checkLength("sgdUpdateInPlace", "gradient", g, p.length);
  lib.rnn_sgd(BigInt(p.length), p, g, learningRate, gradScale);
  return true;
}
