/**
 * What the training core needs from a model: its weights, a loss over one
 * batch, and a name for its kind. The language model, the sequence
 * classifier, the conditioned generator and the encoder-decoder all
 * implement it, and `fit`, `computeGradients`, checkpoints and resume work
 * for any of them.
 *
 * @module
 */
import type { Scalar, Tensor, Variable } from "../ops/tensors.ts";
import type { State } from "../cells/types.ts";

/** Options of {@linkcode TrainableModel.loss}. */
export interface LossOptions {
  /** Whether dropout is active. */
  training: boolean;
  /** Seed of this step's dropout masks (fixed by the step's place in the run). */
  seed?: number;
  /**
   * State carried in from the previous batch (a language model read in
   * sequential order); undefined for zeros. Not disposed by the model.
   */
  carry?: State[];
}

/** What {@linkcode TrainableModel.loss} returns. */
export interface LossResult {
  /** The mean loss over the batch's items. */
  loss: Scalar;
  /**
   * How many items (tokens, examples, target tokens) the mean is over, known
   * without reading the GPU back, so an epoch's mean weighs batches right.
   */
  count: number;
  /**
   * The state to carry into the next batch, when the model carries one. The
   * core keeps it out of the gradient scope and disposes it.
   */
  carry?: State[];
}

/**
 * A model the training core can train, checkpoint and resume.
 *
 * @typeParam Batch what one minibatch is for this model.
 *
 * @example A least-squares model through the core's gradient step
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * import type { TrainableModel } from "./model.ts";
 * const w = tf.variable(tf.zeros([1]), true, "w");
 * const model: TrainableModel<number> = {
 *   kind: "toy",
 *   config: { kind: "toy" },
 *   trainableVariables: [w],
 *   loss: (x) => ({ loss: tf.square(tf.sub(tf.mul(w, x), 2 * x)).mean() as tf.Scalar, count: 1 }),
 *   namedWeights: () => ({ w: w.clone() }),
 *   setNamedWeights: (named) => w.assign(named.w as tf.Tensor1D),
 *   dispose: () => w.dispose(),
 * };
 * ok(model.loss(1, { training: true }).count === 1);
 * model.dispose();
 * ```
 */
export interface TrainableModel<Batch> {
  /**
   * The model kind ("lm", "classifier", "generator", "seq2seq", ...): saved in
   * every checkpoint, and loading a checkpoint into another kind is an error.
   */
  readonly kind: string;
  /** Everything needed to build the model again: plain JSON, with the kind. */
  readonly config: unknown;
  /** Every trainable variable, in a stable order (the optimizer's slots follow it). */
  readonly trainableVariables: Variable[];
  /**
   * The loss of one batch. Called inside `tf.variableGrads`; must be
   * differentiable in {@linkcode trainableVariables}.
   */
  loss(batch: Batch, options: LossOptions): LossResult;
  /** The weights as named tensors for a checkpoint: new tensors the caller disposes. */
  namedWeights(): Record<string, Tensor>;
  /**
   * Replaces every weight from a record like {@linkcode namedWeights}'s.
   * Checks every name and shape before anything changes.
   */
  setNamedWeights(named: Record<string, Tensor>): void;
  /** Frees every variable. */
  dispose(): void;
}
