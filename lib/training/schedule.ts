/**
 * Learning-rate schedules and weight decay for the training loop: what a
 * PyTorch or Keras user expects (`LambdaLR` warmup, `MultiStepLR`,
 * `CosineAnnealingLR`, `AdamW`'s decoupled weight decay).
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Variable } from "../ops/tensors.ts";

/** The schedules of {@linkcode scheduledRate}. */
export type LrScheduleName = "constant" | "step" | "cosine";

/** The schedule names, for validation and help text. */
export const LR_SCHEDULES: readonly LrScheduleName[] = ["constant", "step", "cosine"];

/** A learning-rate schedule over a whole run. */
export interface LrSchedule {
  /**
   * constant: `lr` throughout; step: `lr`, x0.1 from half the run's steps,
   * x0.01 from three quarters (`MultiStepLR`); cosine: from `lr` down to 0
   * along half a cosine (`CosineAnnealingLR`).
   */
  name: LrScheduleName;
  /** The peak (base) learning rate. */
  lr: number;
  /** Steps of linear warmup from lr / warmupSteps up to lr. @default 0 */
  warmupSteps?: number;
}

/**
 * The learning rate of step `step` (0-based, counted over the whole run) of
 * a run of `totalSteps` steps.
 *
 * @example Warmup, then half a cosine
 * ```ts
 * import { strictEqual } from "node:assert";
 * const schedule = { name: "cosine", lr: 1, warmupSteps: 10 } as const;
 * strictEqual(scheduledRate(schedule, 0, 110), 0.1);
 * strictEqual(scheduledRate(schedule, 10, 110), 1);
 * strictEqual(scheduledRate(schedule, 60, 110), 0.5);
 * ```
 */
export function scheduledRate(schedule: LrSchedule, step: number, totalSteps: number): number {
  const warmup = schedule.warmupSteps ?? 0;
  if (step < warmup) return schedule.lr * (step + 1) / warmup;
  const span = Math.max(1, totalSteps - warmup);
  const t = Math.min(1, (step - warmup) / span); // progress after warmup, [0, 1]
  switch (schedule.name) {
    case "step":
      return schedule.lr * (t >= 0.75 ? 0.01 : t >= 0.5 ? 0.1 : 1);
    case "cosine":
      return schedule.lr * 0.5 * (1 + Math.cos(Math.PI * t));
    default:
      return schedule.lr;
  }
}

/**
 * Whether a schedule ever sets a rate other than its `lr`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(isScheduled({ name: "constant", lr: 0.1 }), false);
 * strictEqual(isScheduled({ name: "constant", lr: 0.1, warmupSteps: 5 }), true);
 * ```
 */
export function isScheduled(schedule: LrSchedule | undefined): boolean {
  return schedule !== undefined &&
    (schedule.name !== "constant" || (schedule.warmupSteps ?? 0) > 0);
}

/**
 * Decays weights in place, `w <- w (1 - lr wd)`: run before the optimizer's
 * update, this is AdamW's decoupled weight decay for Adam, and for plain SGD
 * it is exactly L2 regularisation (`g + wd w` in the gradient).
 *
 * @param variables the trainable variables (all of them, biases too, as
 *   PyTorch's optimizers do by default).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const w = tf.variable(tf.tensor1d([2]));
 * decayWeights([w], 0.5, 0.1);
 * strictEqual((await w.data())[0], 1.899999976158142);
 * w.dispose();
 * ```
 */
export function decayWeights(
  variables: readonly Variable[],
  learningRate: number,
  weightDecay: number,
): void {
  if (!(weightDecay > 0)) return;
  const factor = 1 - learningRate * weightDecay;
  tf.tidy(() => {
    for (const v of variables) v.assign(tf.mul(v, factor));
  });
}
