/**
 * Error classes shared by the library. `lib/` throws, `scripts/` decides:
 * a {@linkcode UsageError} is the user's to fix and becomes exit code 2 with
 * one line on stderr; anything else is a failure at run time (exit code 1).
 *
 * @module
 */

/**
 * A mistake in what the user asked for or gave: a bad flag value, a missing
 * file, an empty corpus, a checkpoint that does not fit. The message is one
 * sentence that names the failed action and the bad value.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * const error = new UsageError('Cannot read corpus "x.txt": no such file');
 * ok(error instanceof Error);
 * ```
 */
export class UsageError extends Error {
  /**
   * A usage error with its message.
   *
   * @param message one line: the failed action, then the state, with the bad value quoted.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}
