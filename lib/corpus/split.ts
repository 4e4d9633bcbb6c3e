/**
 * The train/validation split: the last part of the corpus held out, in one
 * contiguous piece (so sequential minibatches of either part are real text).
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import type { TokenIds } from "./store.ts";

/** The default share of tokens held out for validation. */
export const DEFAULT_VALID_FRACTION = 0.1;

/** A corpus cut in two. */
export interface TrainValidSplit {
  /** The first `length - validLength` tokens. */
  train: TokenIds;
  /** The last `floor(length * validFraction)` tokens (empty for 0). */
  valid: TokenIds;
}

/**
 * Checks a validation fraction: a number in `[0, 1)`.
 *
 * @throws {UsageError} otherwise.
 *
 * @example In [0, 1) or not
 * ```ts
 * import { throws } from "node:assert";
 * import { checkValidFraction } from "./split.ts";
 * checkValidFraction(0.1);
 * throws(() => checkValidFraction(1), /not in \[0, 1\)/);
 * ```
 */
export function checkValidFraction(validFraction: number): void {
  if (typeof validFraction !== "number" || !(validFraction >= 0 && validFraction < 1)) {
    throw new UsageError(
      `Cannot split the corpus: validFraction ${validFraction} is not in [0, 1)`,
    );
  }
}

/**
 * Number of tokens held out: `floor(length * validFraction)`.
 *
 * @example A tenth of 95 tokens
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { validLength } from "./split.ts";
 * strictEqual(validLength(95, 0.1), 9);
 * ```
 */
export function validLength(length: number, validFraction: number): number {
  return Math.floor(length * validFraction);
}

/**
 * Splits ids into train and validation views (no copy).
 *
 * @throws {UsageError} for a fraction outside `[0, 1)`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { MemoryTokenIds } from "./store.ts";
 * const { train, valid } = splitTrainValid(new MemoryTokenIds(new Uint8Array(100)), 0.1);
 * strictEqual(train.length, 90);
 * strictEqual(valid.length, 10);
 * ```
 */
export function splitTrainValid(
  ids: TokenIds,
  validFraction = DEFAULT_VALID_FRACTION,
): TrainValidSplit {
  checkValidFraction(validFraction);
  const cut = ids.length - validLength(ids.length, validFraction);
  return { train: ids.view(0, cut), valid: ids.view(cut, ids.length) };
}
