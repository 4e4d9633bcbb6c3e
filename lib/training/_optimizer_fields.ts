/**
 * Private: the fields of a tfjs optimizer that its types keep protected or
 * private (the learning rate; Adam's running powers of beta), read and
 * written in this one place, each checked at run time.
 *
 * @module
 */
import type { Optimizer, Variable } from "../ops/tensors.ts";
import { tf } from "../tf.ts";

/** An optimizer's fields by name, as JavaScript sees them. */
function fieldsOf(optimizer: Optimizer): Record<string, unknown> {
  const fields: object = optimizer;
  return fields as Record<string, unknown>;
}

/** The learning rate an optimizer applies (SGD, momentum and Adam keep it in one field). */
export function learningRateOf(optimizer: Optimizer): number {
  const rate = fieldsOf(optimizer).learningRate;
  if (typeof rate !== "number") {
    throw new Error(`${optimizer.getClassName()} keeps no learningRate field`);
  }
  return rate;
}

/** Sets the learning rate an optimizer applies from its next step. */
export function setLearningRate(optimizer: Optimizer, rate: number): void {
  learningRateOf(optimizer); // the field exists
  // SGD and momentum keep the rate twice, as the field and as the tensor their update
  // multiplies by: their own setter changes both (the field alone changed nothing).
  const setter = fieldsOf(optimizer).setLearningRate;
  if (typeof setter === "function") setter.call(optimizer, rate);
  else fieldsOf(optimizer).learningRate = rate;
}

/**
 * Adam's running powers beta1^t and beta2^t, or undefined for an optimizer
 * without them. A checkpoint saves them as they are: tfjs recomputes them on
 * `setWeights` with pow(), which can differ in the last bit.
 */
export function accumulatedBetasOf(optimizer: Optimizer): [Variable, Variable] | undefined {
  const { accBeta1, accBeta2 } = fieldsOf(optimizer);
  return accBeta1 instanceof tf.Variable && accBeta2 instanceof tf.Variable
    ? [accBeta1, accBeta2]
    : undefined;
}
