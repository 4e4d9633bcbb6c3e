/**
 * Private: the JSON value type and a check that a value survives
 * `JSON.stringify` unchanged (no NaN turned into null, no Map turned into {}).
 *
 * @module
 */

/** A value that JSON holds exactly. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/**
 * Why `value` does not survive a JSON round trip, naming where (`config.lr`),
 * or `undefined` when it does. An `undefined` object property is fine (it is
 * left out, as an optional field); an `undefined` array element is not.
 */
export function jsonProblem(
  value: unknown,
  where: string,
  seen = new Set<object>(),
): string | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : `${where} is ${value}, which JSON cannot hold`;
    case "object":
      break;
    default:
      return `${where} is ${typeof value}, which JSON cannot hold`;
  }
  if (value === null) return undefined;
  if (seen.has(value)) return `${where} refers back to itself`;
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const problem = jsonProblem(value[i], `${where}[${i}]`, seen);
        if (problem) return problem;
      }
      return undefined;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      return `${where} is a ${value.constructor?.name ?? "non-plain object"}, not a plain object`;
    }
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue;
      const problem = jsonProblem(item, `${where}.${key}`, seen);
      if (problem) return problem;
    }
    return undefined;
  } finally {
    seen.delete(value);
  }
}

/** Whether a value is a plain JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
