/**
 * Inverted dropout's multiplier, `floor(u + keep) / keep` for `u` uniform in
 * [0, 1): 0 with probability `rate`, else `1 / keep`. tfjs draws `u` with
 * `tf.randomUniform` (Baagøe's Alea generator, seeded through his Mash hash
 * with the seed's string) one JavaScript call per value, and then runs three
 * more ops over the shape. On the native backend the generator, the sum, the
 * floor and the division run in one C loop from the same starting state: the
 * same noise and the same float32 multiplier to the bit, checked against the
 * tf ops over seeds, rates and shapes.
 *
 * @module
 */
import type { Tensor } from "../ops/tensors.ts";
import { tf } from "../tf.ts";
import { nativeKernels } from "../native/backend.ts";

/**
 * Baagøe's Mash: a hash of strings to numbers in [0, 1), with the running
 * state `n` it carries from one call to the next (Alea's seeding calls it four
 * times in a row).
 */
function mashOf(): (data: string) => number {
  let n = 0xefc8249d;
  return (data: string) => {
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i);
      let h = 0.02519603282416938 * n;
      n = h >>> 0;
      h -= n;
      h *= n;
      n = h >>> 0;
      h -= n;
      n += h * 0x100000000; // 2^32
    }
    return (n >>> 0) * 2.3283064365386963e-10; // 2^-32
  };
}

/**
 * Alea's starting state `[s0, s1, s2, c]` for a seed string, as seeded by
 * Baagøe's algorithm (each of s0, s1, s2 is Mash(" ") less Mash(seed), kept
 * in [0, 1); the carry starts at 1).
 */
function aleaState(seed: string): Float64Array {
  const mash = mashOf();
  const s = [mash(" "), mash(" "), mash(" ")];
  for (let i = 0; i < 3; i++) {
    s[i] -= mash(seed);
    if (s[i] < 0) s[i] += 1;
  }
  return Float64Array.of(s[0], s[1], s[2], 1);
}

/**
 * The multiplier of inverted dropout for a tensor of `shape`: a new float32
 * tensor of zeros and `1 / (1 - rate)`, each zero with probability `rate`.
 * With a seed, the same values on every backend (tfjs's `tf.dropout` would
 * draw the same mask from it); without one, a fresh draw.
 *
 * @param rate in [0, 1) (the caller checks it).
 *
 * @example A seeded mask is the same twice
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const a = dropoutMultiplier([2, 3], 0.5, 7), b = dropoutMultiplier([2, 3], 0.5, 7);
 * deepStrictEqual(await a.data(), await b.data()); // zeros and 2s
 * ```
 */
export function dropoutMultiplier(shape: number[], rate: number, seed?: number): Tensor {
  const keep = 1 - rate;
  if (nativeKernels()) {
    const n = shape.reduce((a, b) => a * b, 1);
    return tf.tensor(nativeDropoutMultiplier(n, rate, seed), shape, "float32");
  }
  return tf.tidy(() => {
    // floor(u + keep) is 1 with probability keep, for u uniform in [0, 1).
    const u = tf.randomUniform(shape, 0, 1, "float32", seed);
    return tf.div(tf.floor(tf.add(u, keep)), keep);
  });
}

/**
 * {@linkcode dropoutMultiplier}'s values on the native backend as an array
 * (one C loop), for a native op that applies masks itself.
 *
 * @param n how many values.
 * @param rate in [0, 1) (the caller checks it).
 * @throws {Error} off the native backend.
 *
 * @example The same values as the tensor
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * if (tf.getBackend() === "native") {
 *   const mask = await dropoutMultiplier([4], 0.5, 3).data();
 *   deepStrictEqual(nativeDropoutMultiplier(4, 0.5, 3), mask);
 * }
 * ```
 */
export function nativeDropoutMultiplier(n: number, rate: number, seed?: number): Float32Array {
  const lib = nativeKernels();
  if (!lib) throw new Error(`nativeDropoutMultiplier: the native backend is not the active one`);
  const out = new Float32Array(n);
  // tfjs turns a number seed into its string; no seed draws one from Math.random, as it does.
  const state = aleaState(String(seed ?? Math.random()));
  lib.rnn_dropout_mask(BigInt(n), state, 1 - rate, out);
  return out;
}
