/**
 * The checks every model's config function makes, so that a bad size, kind
 * or rate reads the same whichever model it was given to: `<action>: <field>
 * is <value>, expected ...`.
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/**
 * Throws unless every named field of a config is an integer >= 1.
 *
 * @param action the start of the message, e.g. "Cannot build a classifier".
 *
 * @example
 * ```ts
 * import { throws } from "node:assert";
 * throws(() => checkSizes("Cannot build", { layers: 0 }, ["layers"]), /layers is 0, expected an integer >= 1/);
 * ```
 */
export function checkSizes<C>(action: string, config: C, keys: readonly (keyof C)[]): void {
  for (const key of keys) {
    const value = config[key];
    if (!Number.isInteger(value) || (value as number) < 1) {
      throw new UsageError(`${action}: ${String(key)} is ${value}, expected an integer >= 1`);
    }
  }
}

/**
 * Throws unless `value` is one of `allowed`.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert";
 * throws(() => checkChoice("Cannot build", "cell", "lstn", ["gru", "lstm"]), /cell is "lstn", expected one of gru, lstm/);
 * ```
 */
export function checkChoice(
  action: string,
  field: string,
  value: string,
  allowed: readonly string[],
): void {
  if (!allowed.includes(value)) {
    throw new UsageError(
      `${action}: ${field} is "${value}", expected one of ${allowed.join(", ")}`,
    );
  }
}

/**
 * Throws unless `value` is a rate in [0, 1) (a dropout probability).
 *
 * @example
 * ```ts
 * import { throws } from "node:assert";
 * throws(() => checkRate("Cannot build", "dropout", 1), /dropout is 1, expected a number in \[0, 1\)/);
 * ```
 */
export function checkRate(action: string, field: string, value: number): void {
  if (!(value >= 0 && value < 1)) {
    throw new UsageError(`${action}: ${field} is ${value}, expected a number in [0, 1)`);
  }
}
