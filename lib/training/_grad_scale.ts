/**
 * Private: the clip factor that `FusedAdam` and `FusedSgd` hand to their C
 * updates.
 *
 * @module
 */
import type { Scalar } from "../ops/tensors.ts";
import { nativeKernels } from "../native/backend.ts";

/**
 * A gradient scale as the float32 its product would use, read only on the
 * native backend (where the updates take it, and reading costs no GPU sync);
 * otherwise undefined.
 *
 * @example Off the native backend, or without a scale, undefined
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * ok(nativeGradScale(undefined) === undefined);
 * ok(nativeGradScale(tf.scalar(0.5)) === (tf.getBackend() === "native" ? 0.5 : undefined));
 * ```
 */
export function nativeGradScale(scale: Scalar | undefined): number | undefined {
  return scale && nativeKernels() ? scale.dataSync()[0] : undefined;
}
