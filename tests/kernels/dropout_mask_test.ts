/**
 * dropoutMultiplier(): on native, one C loop with tfjs's own generator; it
 * must give, to the bit, the multiplier of tf ops on cpu and the mask of
 * `tf.dropout` there, for every seed, rate and shape tried (a different seed
 * hash, carry or rounding shows at once); unseeded draws are masks too.
 */
import { deepStrictEqual, ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { dropoutMultiplier } from "../../lib/kernels/dropout_mask.ts";
import { NATIVE } from "../_native.ts";
import { onBackend } from "./_helpers.ts";

const ignore = NATIVE.length === 0;

const SEEDS = [0, 1, 7, 42, 1_000_003, 2 ** 31 - 1, 123_456_789, 0.5, -3, 1e21];
const RATES = [0.2, 0.5, 0.1, 0.9, 1e-7, 0.999];
const SHAPES = [[1], [7], [3, 5], [9, 4, 33]];

/** Every (seed, rate, shape) case's values, from `f`, on a backend. */
async function masks(
  backend: string,
  f: (shape: number[], rate: number, seed: number) => tf.Tensor,
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  await onBackend(backend, async () => {
    for (const [i, seed] of SEEDS.entries()) {
      const rate = RATES[i % RATES.length], shape = SHAPES[i % SHAPES.length];
      const t = f(shape, rate, seed);
      out.push(await t.data() as Float32Array);
      t.dispose();
    }
  });
  return out;
}

Deno.test({
  name:
    "dropoutMultiplier() on native equals the tf ops on cpu and tf.dropout's mask, to the bit (seeds, rates, shapes)",
  ignore,
  fn: async () => {
    const multiplier = (shape: number[], rate: number, seed: number) =>
      dropoutMultiplier(shape, rate, seed);
    const native = await masks("native", multiplier), cpu = await masks("cpu", multiplier);
    const tfjs = await masks(
      "cpu",
      (shape, rate, seed) => tf.tidy(() => tf.dropout(tf.ones(shape), rate, undefined, seed)),
    );
    native.forEach((m, i) => {
      deepStrictEqual(Array.from(m), Array.from(cpu[i]), `case ${i}: the tf ops`);
      deepStrictEqual(Array.from(m), Array.from(tfjs[i]), `case ${i}: tf.dropout`);
    });
    // A big draw: the generator's carry over hundreds of thousands of values.
    const big = async (backend: string) =>
      (await masks(backend, (_s, rate, seed) => dropoutMultiplier([9, 128, 256], rate, seed)))[4];
    deepStrictEqual(Array.from(await big("native")), Array.from(await big("cpu")), "9x128x256");
  },
});

Deno.test({
  name: "dropoutMultiplier() without a seed on native: zeros and 1/keep, about a rate of zeros",
  ignore,
  fn: async () => {
    await onBackend("native", async () => {
      const a = dropoutMultiplier([100_000], 0.3), b = dropoutMultiplier([100_000], 0.3);
      const [x, y] = [await a.data(), await b.data()];
      const keep = Math.fround(1 / Math.fround(0.7));
      ok(x.every((v) => v === 0 || v === keep), "values are 0 or 1/keep");
      const zeros = x.filter((v) => v === 0).length / x.length;
      ok(Math.abs(zeros - 0.3) < 0.01, `a fraction ${zeros} of zeros`);
      ok(x.some((v, i) => v !== y[i]), "two unseeded draws differ");
      tf.dispose([a, b]);
    });
  },
});
