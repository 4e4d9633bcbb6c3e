/**
 * `tf.tidy` for any record of tensors.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { TensorContainer } from "./tensors.ts";

/**
 * `tf.tidy` for records the tfjs typings do not take (interfaces such as
 * `State`): frees every tensor `fn` makes except those in what it returns.
 *
 * @param fn makes tensors and returns the ones to keep, in any record or array.
 * @returns what `fn` returns; its tensors are the caller's to dispose.
 *
 * @example Only the returned tensor survives
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const before = tf.memory().numTensors;
 * const kept = tidy(() => ({ h: tf.add(tf.ones([2]), tf.ones([2])) }));
 * strictEqual(tf.memory().numTensors, before + 1);
 * kept.h.dispose();
 * ```
 */
export function tidy<T>(fn: () => T): T {
  return tf.tidy(fn as () => TensorContainer) as T;
}
