/**
 * Shape checks with the project's error sentences: `<action>: <what> has
 * shape [..], expected [..]`.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor } from "./tensors.ts";
import { UsageError } from "../errors.ts";

/**
 * How every message writes a shape.
 *
 * @example How shapes read
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(formatShape([2, 3]), "[2, 3]");
 * ```
 */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * Whether two shapes are the same.
 *
 * @example Same and different shapes
 * ```ts
 * import { ok } from "node:assert";
 * ok(sameShape([2, 3], [2, 3]) && !sameShape([2, 3], [3, 2]));
 * ```
 */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/**
 * Throws a UsageError naming `what` when `tensor` is missing, not a tensor,
 * or not of shape `expected`.
 *
 * @param action the start of the message, e.g. "Cannot run a gru cell".
 * @param what the argument's name in the message.
 * @throws {UsageError} naming `what`, its shape and the expected one.
 *
 * @example A wrong shape is named
 * ```ts
 * import { throws } from "node:assert";
 * import { tf } from "../tf.ts";
 * throws(() => checkShape("Cannot run", "Wx", tf.zeros([2, 3]), [3, 2]), /Wx has shape \[2, 3\], expected \[3, 2\]/);
 * ```
 */
export function checkShape(
  action: string,
  what: string,
  tensor: Tensor | undefined,
  expected: readonly number[],
): void {
  if (tensor === undefined) {
    throw new UsageError(`${action}: ${what} is missing, expected shape ${formatShape(expected)}`);
  }
  if (!(tensor instanceof tf.Tensor)) {
    throw new UsageError(
      `${action}: ${what} is not a tensor, expected shape ${formatShape(expected)}`,
    );
  }
  if (!sameShape(tensor.shape, expected)) {
    throw new UsageError(
      `${action}: ${what} has shape ${formatShape(tensor.shape)}, expected ${
        formatShape(expected)
      }`,
    );
  }
}
