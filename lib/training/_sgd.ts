/**
 * Private: tfjs's SGD with its update done in place on the native backend
 * (see `sgdUpdateInPlace`); the same results to the bit, and the same
 * optimizer to tfjs everywhere else (its name, weights and checkpoints).
 *
 * @module
 */
import type { NamedTensorMap, Scalar, Tensor } from "../ops/tensors.ts";
import { tf } from "../tf.ts";
import { sgdUpdateInPlace } from "../kernels/sgd_update.ts";
import { nativeGradScale } from "./_grad_scale.ts";

/**
 * `tf.train.sgd` whose update runs in place where the native backend can.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * const v = tf.variable(tf.tensor([1]));
 * new FusedSgd(0.5).applyGradients({ [v.name]: tf.tensor([2]) });
 * ok(Math.abs((await v.data())[0]) < 1e-7);
 * ```
 */
export class FusedSgd extends tf.SGDOptimizer {
  /**
   * One update of every variable named in `variableGradients` (by `tf.Variable` name).
   *
   * @param scale a scalar every gradient is multiplied by first (a clip's
   *   factor): the same values as scaling them before the call, without a
   *   scaled copy of each where the update is one C call.
   */
  override applyGradients(
    variableGradients: NamedTensorMap | { name: string; tensor: Tensor }[],
    scale?: Scalar,
  ): void {
    const factor = nativeGradScale(scale);
    const entries = Array.isArray(variableGradients)
      ? variableGradients.map(({ name, tensor }) => [name, tensor] as const)
      : Object.entries(variableGradients);
    const rest: { name: string; tensor: Tensor }[] = [];
    for (const [name, gradient] of entries) {
      const variable = tf.engine().registeredVariables[name];
      if (gradient == null) continue;
      if (!sgdUpdateInPlace(variable, gradient, this.learningRate, factor)) {
        rest.push({ name, tensor: scale ? tf.mul(gradient, scale) : gradient });
      }
    }
    if (rest.length > 0) super.applyGradients(rest); // counts the step itself
    else this.incrementIterations();
    if (scale) tf.dispose(rest.map(({ tensor }) => tensor));
  }
}
