/**
 * Choosing the next token from a row of logits, for any model that generates
 * one token at a time (the language model, the conditioned generator): greedy,
 * or sampled with temperature, top-k and top-p, some ids banned.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import type { Rng } from "../rng.ts";

/** How the next token is chosen from the model's logits. */
export interface DecodeOptions {
  /** Always take the most likely token (ignores the rest). @default false */
  greedy?: boolean;
  /** Logits are divided by this before the softmax; must be > 0. @default 1 */
  temperature?: number;
  /** Keep only the k most likely tokens; 0 keeps all. @default 0 */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p, in (0, 1]. @default 1 */
  topP?: number;
  /** Token ids never chosen (e.g. `<unk>`). @default [] */
  banned?: readonly number[];
}

/**
 * Checks decode options.
 *
 * @throws {UsageError} naming the option, the bad value and what is allowed.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert";
 * throws(() => checkDecodeOptions({ topP: 1.5 }));
 * ```
 */
export function checkDecodeOptions(options: DecodeOptions): void {
  const { temperature = 1, topK = 0, topP = 1 } = options;
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new UsageError(`Cannot sample: temperature is ${temperature}, expected a number > 0`);
  }
  if (!Number.isInteger(topK) || topK < 0) {
    throw new UsageError(`Cannot sample: topK is ${topK}, expected an integer >= 0`);
  }
  if (!(topP > 0 && topP <= 1)) {
    throw new UsageError(`Cannot sample: topP is ${topP}, expected a number in (0, 1]`);
  }
}

/**
 * Picks the next token id from one row of logits.
 *
 * Order of filters: temperature, then top-k, then top-p (nucleus, Holtzman et
 * al. 2019), then a draw from what is left, renormalised.
 *
 * @example Greedy and top-k 1 agree
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { Rng } from "../rng.ts";
 * const logits = Float32Array.of(0.1, 2, -1, 1.9);
 * strictEqual(chooseToken(logits, { greedy: true }, new Rng(0)), 1);
 * strictEqual(chooseToken(logits, { topK: 1 }, new Rng(0)), 1);
 * ```
 */
export function chooseToken(logits: ArrayLike<number>, options: DecodeOptions, rng: Rng): number {
  const banned = new Set(options.banned ?? []);
  const allowed: number[] = [];
  for (let i = 0; i < logits.length; i++) if (!banned.has(i)) allowed.push(i);
  if (allowed.length === 0) throw new UsageError("Cannot sample: every token id is banned");
  allowed.sort((a, b) => logits[b] - logits[a]); // most likely first
  if (options.greedy) return allowed[0];
  const { temperature = 1, topK = 0, topP = 1 } = options;
  const kept = topK > 0 ? allowed.slice(0, topK) : allowed;
  // Softmax over the kept ids, stable: subtract the largest scaled logit.
  const top = logits[kept[0]] / temperature;
  const weights = kept.map((id) => Math.exp(logits[id] / temperature - top));
  const total = weights.reduce((a, b) => a + b, 0);
  let cut = kept.length;
  if (topP < 1) {
    let mass = 0;
    for (let i = 0; i < kept.length; i++) {
      mass += weights[i] / total;
      if (mass >= topP) {
        cut = i + 1;
        break;
      }
    }
  }
  const nucleus = weights.slice(0, cut);
  let r = rng.next() * nucleus.reduce((a, b) => a + b, 0);
  for (let i = 0; i < cut; i++) {
    r -= nucleus[i];
    if (r < 0) return kept[i];
  }
  return kept[cut - 1];
}
