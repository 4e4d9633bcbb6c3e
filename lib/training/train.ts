/**
 * One training step for any {@linkcode TrainableModel}: its loss, the
 * gradients, clipping by global norm and the optimizer's update. The epoch
 * loop is `fit.ts`; lib/ prints nothing.
 *
 * @module
 */
import { FusedSgd } from "./_sgd.ts";
import { sumOfSquares } from "../kernels/sum_squares.ts";
import type { NamedTensorMap, Optimizer, Scalar } from "../ops/tensors.ts";
import { addAll, tf } from "../tf.ts";
import { stateTensors } from "../cells/state.ts";
import { UsageError } from "../errors.ts";
import type { State } from "../cells/types.ts";
import type { TrainableModel } from "./model.ts";
import { FusedAdam } from "./_adam.ts";

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
export function makeOptimizer(name: OptimizerName, learningRate: number): Optimizer {
  if (!(learningRate > 0)) {
    throw new UsageError(
      `Cannot make optimizer "${name}": learning rate is ${learningRate}, expected > 0`,
    );
  }
  if (name === "sgd") return new FusedSgd(learningRate);
  if (name === "adam") return new FusedAdam(learningRate);
  throw new UsageError(
    `Cannot make optimizer "${name}": expected one of ${OPTIMIZERS.join(", ")}`,
  );
}

/**
 * The global L2 norm of a set of gradients, `sqrt(sum of every squared entry)`.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * ok(Math.abs((await globalNorm({ a: tf.tensor([3]), b: tf.tensor([4]) }).data())[0] - 5) < 1e-6);
 * ```
 */
export function globalNorm(grads: NamedTensorMap): Scalar {
  return tf.tidy(() => tf.sqrt(addAll(Object.values(grads).map((g) => sumOfSquares(g)))) as Scalar);
}

/**
 * Scales gradients so their global L2 norm is at most `maxNorm` (d2l's
 * `grad_clipping`: `g <- g * min(1, theta / ||g||)` over all parameters).
 *
 * @param grads gradients by variable name; disposed and replaced when clipped.
 * @param maxNorm the largest norm allowed; 0 or Infinity disables clipping.
 * @param norm their global norm when already known (then returned as is).
 * @returns the clipped gradients and the norm before clipping (a scalar the caller disposes).
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * const { grads, norm } = clipByGlobalNorm({ a: tf.tensor([3, 4]) }, 1);
 * ok(Math.abs((await norm.data())[0] - 5) < 1e-6);
 * ok(Math.abs((await grads.a.data())[1] - 0.8) < 1e-6);
 * ```
 */
export function clipByGlobalNorm(
  grads: NamedTensorMap,
  maxNorm: number,
  norm: Scalar = globalNorm(grads),
): { grads: NamedTensorMap; norm: Scalar } {
  if (!clips(maxNorm)) return { grads, norm };
  const clipped = tf.tidy(() => {
    const scale = clipScale(maxNorm, norm);
    const out: NamedTensorMap = {};
    for (const [name, g] of Object.entries(grads)) out[name] = tf.mul(g, scale);
    return out;
  });
  tf.dispose(Object.values(grads));
  return { grads: clipped, norm };
}

/** Whether a clip setting clips at all (0 and Infinity do not). */
function clips(maxNorm: number): boolean {
  return maxNorm > 0 && maxNorm !== Infinity;
}

/** The clip's factor `min(1, theta / norm)`, a new scalar; the epsilon only guards a zero norm. */
function clipScale(maxNorm: number, norm: Scalar): Scalar {
  return tf.tidy(() => tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-12))) as Scalar);
}

/** Options of {@linkcode computeGradients} and {@linkcode trainStep}. */
export interface TrainStepOptions {
  /** Largest global gradient norm; 0 disables clipping (trainStep only). @default 1 */
  clip?: number;
  /** Whether dropout is active. @default true */
  training?: boolean;
  /** Seed of the step's dropout masks. @default drawn by the model */
  seed?: number;
}

/** Loss, gradients and the carried state of one minibatch: tensors the caller disposes. */
export interface Gradients {
  /** The model's mean loss over the batch. */
  loss: Scalar;
  /** How many items the mean is over (the model's `count`). */
  count: number;
  /** Gradient of the loss for every trainable variable, by variable name. */
  grads: NamedTensorMap;
  /**
   * The state to carry into the next batch, detached from the graph, when the
   * model returns one (a language model's final recurrent state).
   */
  state?: State[];
}

/**
 * The first half of a step: the model's loss and the gradient of every
 * trainable variable, nothing changed yet (so a caller can look at the loss
 * before deciding to apply them).
 *
 * @typeParam B the model's batch type.
 * @param carry the state to start from (not disposed), or undefined for zeros.
 *
 * @example A language model (any TrainableModel works the same way)
 * ```ts
 * import { ok } from "node:assert";
 * import { LanguageModel, modelConfig } from "../lm/model.ts";
 * import { disposeStates } from "../cells/state.ts";
 * import { tf } from "../tf.ts";
 * const model = new LanguageModel(modelConfig({ vocabSize: 4, cell: "gru", hiddenSize: 3 }));
 * const batch = { x: Int32Array.of(0, 1, 2, 3), y: Int32Array.of(1, 2, 3, 0), batchSize: 1, numSteps: 4 };
 * const { loss, count, grads, state } = computeGradients(model, batch, undefined);
 * ok(count === 4 && Object.keys(grads).length === model.trainableVariables.length);
 * tf.dispose([loss, ...Object.values(grads)]);
 * disposeStates(state);
 * model.dispose();
 * ```
 */
export function computeGradients<B>(
  model: TrainableModel<B>,
  batch: B,
  carry: State[] | undefined,
  options: TrainStepOptions = {},
): Gradients {
  const { training = true, seed } = options;
  let next: State[] | undefined;
  let count = 0;
  const { value: loss, grads } = tf.variableGrads(() => {
    const result = model.loss(batch, { training, seed, carry });
    count = result.count;
    // Kept: the state outlives the gradient scope, as the next minibatch's start.
    next = result.carry;
    for (const tensor of (next ?? []).flatMap(stateTensors)) tf.keep(tensor);
    return result.loss;
  }, model.trainableVariables);
  return { loss, count, grads, state: next };
}

/**
 * The second half of a step: clip by global norm, then the optimizer's update.
 * Disposes `grads`.
 *
 * @param norm the gradients' global norm when already computed.
 * @returns the global norm before clipping (a scalar the caller disposes;
 *   `norm` itself when given).
 *
 * @example One sgd step
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { applyGradients, makeOptimizer } from "./train.ts";
 * const w = tf.variable(tf.ones([2]));
 * const norm = applyGradients(makeOptimizer("sgd", 0.5), { [w.name]: tf.ones([2]) }, 0);
 * deepStrictEqual([...w.dataSync()], [0.5, 0.5]);
 * norm.dispose();
 * ```
 */
export function applyGradients(
  optimizer: Optimizer,
  grads: NamedTensorMap,
  clip = 1,
  norm?: Scalar,
): Scalar {
  if ((optimizer instanceof FusedAdam || optimizer instanceof FusedSgd) && clips(clip)) {
    // The clip's factor goes into the update (a product per gradient spared where it can).
    const used = norm ?? globalNorm(grads), scale = clipScale(clip, used);
    optimizer.applyGradients(grads, scale);
    tf.dispose([...Object.values(grads), scale]);
    return used;
  }
  const { grads: clipped, norm: used } = clipByGlobalNorm(grads, clip, norm);
  optimizer.applyGradients(clipped);
  tf.dispose(Object.values(clipped));
  return used;
}

/** What one step leaves behind: tensors the caller disposes. */
export interface TrainStepResult {
  /** The model's mean loss over the batch (before the update). */
  loss: Scalar;
  /** How many items the mean is over. */
  count: number;
  /** Global gradient norm before clipping. */
  gradNorm: Scalar;
  /** The state to carry into the next batch, detached, when the model returns one. */
  state?: State[];
}

/**
 * One optimisation step: {@linkcode computeGradients}, then
 * {@linkcode applyGradients}.
 *
 * @param carry the state to start from (not disposed), or undefined for zeros.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { LanguageModel, modelConfig } from "../lm/model.ts";
 * import { disposeStates } from "../cells/state.ts";
 * import { tf } from "../tf.ts";
 * const model = new LanguageModel(modelConfig({ vocabSize: 4, cell: "rnn", hiddenSize: 3 }));
 * const batch = { x: Int32Array.of(0, 1, 2, 3), y: Int32Array.of(1, 2, 3, 0), batchSize: 1, numSteps: 4 };
 * const { loss, gradNorm, state } = trainStep(model, makeOptimizer("sgd", 1), batch, undefined);
 * ok((await loss.data())[0] > 0);
 * tf.dispose([loss, gradNorm]);
 * disposeStates(state);
 * model.dispose();
 * ```
 */
export function trainStep<B>(
  model: TrainableModel<B>,
  optimizer: Optimizer,
  batch: B,
  carry: State[] | undefined,
  options: TrainStepOptions = {},
): TrainStepResult {
  const { loss, count, grads, state } = computeGradients(model, batch, carry, options);
  const gradNorm = applyGradients(optimizer, grads, options.clip ?? 1);
  return { loss, count, gradNorm, state };
}
