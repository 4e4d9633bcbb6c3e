/**
 * Saving and restoring a tfjs optimizer exactly, so a resumed run continues
 * bit for bit: its accumulators (Adam's moments) by position, its iteration
 * count, its learning rate and Adam's running powers of beta.
 *
 * @module
 */
import type { Optimizer, Tensor } from "../ops/tensors.ts";
import { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import { makeOptimizer, type OptimizerName } from "./train.ts";
import { accumulatedBetasOf, learningRateOf } from "./_optimizer_fields.ts";

/** The JSON half of an optimizer's state. */
export interface OptimizerJson {
  /** The optimizer's name. */
  name: OptimizerName;
  /** Its learning rate. */
  learningRate: number;
  /** Adam's beta1^t and beta2^t as it holds them (float32 values). */
  accBeta1?: number;
  /** Adam's running beta2 power (absent for sgd). */
  accBeta2?: number;
}

/**
 * Captures an optimizer's state.
 *
 * @returns `tensors` keyed `0000`, `0001`, ... in the optimizer's own order
 *   (free them with `dispose()`, which frees only the copies made here), and
 *   the JSON half.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { makeOptimizer } from "./train.ts";
 * const optimizer = makeOptimizer("adam", 0.01);
 * const saved = await captureOptimizer(optimizer, "adam");
 * strictEqual(saved.json.learningRate, 0.01);
 * saved.dispose();
 * ```
 */
export async function captureOptimizer(
  optimizer: Optimizer,
  name: OptimizerName,
): Promise<{ tensors: Record<string, Tensor>; json: OptimizerJson; dispose(): void }> {
  const weights = await optimizer.getWeights();
  const tensors: Record<string, Tensor> = {};
  weights.forEach(({ tensor }, i) => tensors[String(i).padStart(4, "0")] = tensor);
  const json: OptimizerJson = { name, learningRate: learningRateOf(optimizer) };
  const betas = accumulatedBetasOf(optimizer);
  if (betas) {
    json.accBeta1 = (await betas[0].data())[0];
    json.accBeta2 = (await betas[1].data())[0];
  }
  // The iteration count comes back as a new scalar; the rest are the optimizer's own variables.
  const fresh = weights.filter(({ name }) => name === "iter").map(({ tensor }) => tensor);
  return { tensors, json, dispose: () => tf.dispose(fresh) };
}

/**
 * Makes an optimizer in the state {@linkcode captureOptimizer} saw.
 *
 * @param tensors the saved tensors (not disposed here; the optimizer copies them).
 * @throws {UsageError} when the saved state does not fit the optimizer.
 *
 * @example An sgd optimizer back from its JSON
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { restoreOptimizer } from "./optimizer_state.ts";
 * const optimizer = await restoreOptimizer({ name: "sgd", learningRate: 0.1 }, {});
 * strictEqual(optimizer.getClassName(), "SGD");
 * ```
 */
export async function restoreOptimizer(
  json: OptimizerJson,
  tensors: Record<string, Tensor>,
): Promise<Optimizer> {
  const optimizer = makeOptimizer(json.name, json.learningRate);
  const keys = Object.keys(tensors).sort();
  if (keys.length > 0) {
    const list = keys.map((key) => ({ name: key, tensor: tensors[key] }));
    try {
      await optimizer.setWeights(list);
    } catch (error) {
      throw new UsageError(
        `Cannot restore the ${json.name} optimizer: ${(error as Error).message}`,
      );
    }
  }
  const betas = accumulatedBetasOf(optimizer);
  if (json.accBeta1 !== undefined && betas) {
    const [beta1, beta2] = betas;
    tf.tidy(() => {
      beta1.assign(tf.scalar(json.accBeta1 as number));
      beta2.assign(tf.scalar(json.accBeta2 ?? 1));
    });
  }
  return optimizer;
}
