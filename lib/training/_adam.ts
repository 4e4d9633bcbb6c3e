/**
 * Adam with one op per variable and step ({@linkcode adamUpdate}) instead of
 * tfjs's dozen: the same optimizer (`AdamOptimizer`'s class name, slots,
 * `getWeights`/`setWeights` and results, bit for bit), faster for models whose
 * variables are small. On native, from its second step on, it updates its
 * moments in place (see `adamUpdateMomentsInPlace`).
 *
 * @module
 */
import type { NamedTensorMap, Scalar, Tensor, Variable, VariableScalar } from "../ops/tensors.ts";
import { tf } from "../tf.ts";
import { adamUpdate, adamUpdateMomentsInPlace } from "../kernels/adam_update.ts";
import { nativeGradScale } from "./_grad_scale.ts";

/** tfjs's private fields of `AdamOptimizer` that the update reads and writes. */
interface AdamSlots {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: VariableScalar;
  accBeta2: VariableScalar;
  accumulatedFirstMoment: ({ originalName: string; variable: Variable } | undefined)[];
  accumulatedSecondMoment: ({ originalName: string; variable: Variable } | undefined)[];
  incrementIterations(): void;
}

/**
 * `tf.train.adam(learningRate)` (β1 0.9, β2 0.999, the backend's ε) whose
 * update is one fused op per variable.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * const w = tf.variable(tf.tensor1d([1, 2]));
 * const adam = new FusedAdam(0.1);
 * adam.minimize(() => tf.sum(tf.square(w)));
 * ok((await w.data())[0] < 1);
 * adam.dispose();
 * ```
 */
export class FusedAdam extends tf.AdamOptimizer {
  /** @param learningRate the step size. */
  constructor(learningRate: number) {
    super(learningRate, 0.9, 0.999);
  }

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
    const self = this as unknown as AdamSlots;
    const factor = nativeGradScale(scale);
    const entries = Array.isArray(variableGradients)
      ? variableGradients.map(({ name, tensor }) => [name, tensor] as const)
      : Object.entries(variableGradients);
    const coefficients = {
      learningRate: self.learningRate,
      beta1: self.beta1,
      beta2: self.beta2,
      epsilon: self.epsilon,
    };
    tf.tidy(() => {
      entries.forEach(([name, gradient], i) => {
        const value = tf.engine().registeredVariables[name];
        // The slots are made on first use, named as tfjs names them, so checkpoints match.
        for (
          const [slots, suffix] of [[self.accumulatedFirstMoment, "m"], [
            self.accumulatedSecondMoment,
            "v",
          ]] as const
        ) {
          slots[i] ??= {
            originalName: `${name}/${suffix}`,
            variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
          };
        }
        if (gradient == null) return;
        const m = self.accumulatedFirstMoment[i]!.variable;
        const v = self.accumulatedSecondMoment[i]!.variable;
        const step = {
          p: value,
          g: gradient as Tensor,
          m,
          v,
          accBeta1: self.accBeta1,
          accBeta2: self.accBeta2,
        };
        // On native, from the second step on, the moments change in place (no copies of them).
        const updated = adamUpdateMomentsInPlace(step, coefficients, factor);
        if (updated) {
          value.assign(updated);
          return;
        }
        if (scale) step.g = tf.mul(gradient, scale);
        const [p2, m2, v2] = adamUpdate(step, coefficients);
        m.assign(m2);
        v.assign(v2);
        value.assign(p2);
      });
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    self.incrementIterations();
  }
}
