/**
 * Sequence layout: ids of `B` sequences of `T` steps, stored row-major
 * `[B, T]`, reordered time-major `[T, B]` (row `t * B + b`), the order the
 * recurrent kernels and the models' logits use.
 *
 * @module
 */

/**
 * Reorders `[B, T]` row-major ids to the time-major order `[T, B]`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual([...timeMajor(Int32Array.of(1, 2, 3, 4, 5, 6), 2, 3)], [1, 4, 2, 5, 3, 6]);
 * ```
 */
export function timeMajor(ids: Int32Array, batchSize: number, numSteps: number): Int32Array {
  const out = new Int32Array(ids.length);
  for (let b = 0; b < batchSize; b++) {
    for (let t = 0; t < numSteps; t++) out[t * batchSize + b] = ids[b * numSteps + t];
  }
  return out;
}
