/**
 * Training a {@linkcode LanguageModel}: one step (forward, loss, gradients,
 * clipping, update), and the epoch loop over a corpus that reports metrics
 * through callbacks (lib/ prints nothing).
 *
 * @module
 */
import { tf } from "./tf.ts";
import { UsageError } from "./errors.ts";
import { crossEntropy, type LanguageModel, timeMajor } from "./model.ts";
import type { State } from "./cells/types.ts";
import type { Minibatch } from "./corpus/batches.ts";

/** The optimizers a run may use. */
export type OptimizerName = "sgd" | "adam";

/** The optimizer names, for validation and help text. */
export const OPTIMIZERS: readonly OptimizerName[] = ["sgd", "adam"];

/**
 * Makes a tfjs optimizer by name.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * ok(makeOptimizer("adam", 0.01));
 * ```
 */
export function makeOptimizer(name: OptimizerName, learningRate: number): tf.Optimizer {
  if (!(learningRate > 0)) {
    throw new UsageError(
      `Cannot make optimizer "${name}": learning rate is ${learningRate}, expected > 0`,
    );
  }
  if (name === "sgd") return tf.train.sgd(learningRate);
  if (name === "adam") return tf.train.adam(learningRate);
  throw new UsageError(
    `Cannot make optimizer "${name}": expected one of ${OPTIMIZERS.join(", ")}`,
  );
}

/**
 * Scales gradients so their global L2 norm is at most `maxNorm` (d2l's
 * `grad_clipping`: `g <- g * min(1, theta / ||g||)` over all parameters).
 *
 * @param grads gradients by variable name; disposed and replaced when clipped.
 * @param maxNorm the largest norm allowed; 0 or Infinity disables clipping.
 * @returns the clipped gradients and the norm before clipping (a scalar the caller disposes).
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "./tf.ts";
 * const { grads, norm } = clipByGlobalNorm({ a: tf.tensor([3, 4]) }, 1);
 * ok(Math.abs((await norm.data())[0] - 5) < 1e-6);
 * ok(Math.abs((await grads.a.data())[1] - 0.8) < 1e-6);
 * ```
 */
export function clipByGlobalNorm(
  grads: tf.NamedTensorMap,
  maxNorm: number,
): { grads: tf.NamedTensorMap; norm: tf.Scalar } {
  const norm = tf.tidy(() =>
    tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))) as tf.Scalar
  );
  if (!(maxNorm > 0) || maxNorm === Infinity) return { grads, norm };
  const clipped = tf.tidy(() => {
    // min(1, theta / norm); the epsilon only guards a zero norm.
    const scale = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-12)));
    const out: tf.NamedTensorMap = {};
    for (const [name, g] of Object.entries(grads)) out[name] = tf.mul(g, scale);
    return out;
  });
  tf.dispose(Object.values(grads));
  return { grads: clipped, norm };
}

/** Options of {@linkcode trainStep}. */
export interface TrainStepOptions {
  /** Largest global gradient norm; 0 disables clipping. @default 1 */
  clip?: number;
  /** Whether dropout is active. @default true */
  training?: boolean;
}

/** What one step leaves behind: tensors the caller disposes. */
export interface TrainStepResult {
  /** Mean cross-entropy of the batch (before the update). */
  loss: tf.Scalar;
  /** Global gradient norm before clipping. */
  gradNorm: tf.Scalar;
  /** The final recurrent state, detached from the graph. */
  state: State[];
}

/**
 * One optimisation step: forward, loss, gradients of every trainable
 * variable, clipping by global norm, and the optimizer's update.
 *
 * @param state the state to start from (not disposed), or undefined for zeros.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { LanguageModel, modelConfig } from "./model.ts";
 * import { tf } from "./tf.ts";
 * const model = new LanguageModel(modelConfig({ vocabSize: 4, cell: "rnn", hiddenSize: 3 }));
 * const batch = { x: Int32Array.of(0, 1, 2, 3), y: Int32Array.of(1, 2, 3, 0), batchSize: 1, numSteps: 4 };
 * const { loss, gradNorm, state } = trainStep(model, makeOptimizer("sgd", 1), batch, undefined);
 * ok((await loss.data())[0] > 0);
 * tf.dispose([loss, gradNorm, ...state.flatMap((s) => Object.values(s))]);
 * model.dispose();
 * ```
 */
export function trainStep(
  model: LanguageModel,
  optimizer: tf.Optimizer,
  batch: Minibatch,
  state: State[] | undefined,
  options: TrainStepOptions = {},
): TrainStepResult {
  const { clip = 1, training = true } = options;
  const targets = timeMajor(batch.y, batch.batchSize, batch.numSteps);
  let next: State[] = [];
  const { value: loss, grads } = tf.variableGrads(() => {
    const { logits, state: final } = model.forward(batch, state, training);
    // Kept: the state outlives the gradient scope, as the next minibatch's start.
    next = final;
    for (const tensor of next.flatMap(stateTensors)) tf.keep(tensor);
    return crossEntropy(logits, targets);
  }, model.trainableVariables);
  const { grads: clipped, norm } = clipByGlobalNorm(grads, clip);
  optimizer.applyGradients(clipped);
  tf.dispose(Object.values(clipped));
  return { loss, gradNorm: norm, state: next };
}

/** The tensors of a state record. */
export function stateTensors(state: State): tf.Tensor[] {
  return state.c ? [state.h, state.c] : [state.h];
}

/** Frees a list of states (undefined is fine). */
export function disposeStates(states: State[] | undefined): void {
  if (states) tf.dispose(states.flatMap(stateTensors));
}
