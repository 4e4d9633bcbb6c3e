/**
 * dropout(): inverted dropout statistics (rate of zeros, survivors scaled by
 * 1/(1-rate), mean preserved), seeded masks, identity when not training, the
 * gradient, input checks, no leaks, and the same mask on cpu and wasm.
 */
import { deepStrictEqual, notDeepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { tf, useBackend } from "../../lib/tf.ts";
import { UsageError } from "../../lib/errors.ts";
import { dropout } from "../../lib/layers/dropout.ts";
import { assertNoLeak, onBackend, randomData, read, toTensor } from "./_fd.ts";

await useBackend("cpu");

const SHAPE = [200, 100]; // 20,000 elements

Deno.test("dropout() zeroes ~rate of the elements, scales the rest by 1/(1-rate), keeps the mean", async () => {
  for (const rate of [0.1, 0.3, 0.7]) {
    const x = tf.ones(SHAPE);
    const dropped = dropout(x, rate, { training: true, seed: 17 });
    const y = await read(dropped);
    const zeros = y.filter((v) => v === 0).length / y.length;
    // Binomial: sd = sqrt(rate (1 - rate) / 20000) <= 0.0036; allow 5 sd.
    ok(Math.abs(zeros - rate) < 0.018, `rate ${rate}: ${zeros} of the elements are zero`);
    const scale = 1 / (1 - rate);
    ok(y.every((v) => v === 0 || Math.abs(v - scale) < 1e-6 * scale), `survivors are ${scale}`);
    const mean = y.reduce((s, v) => s + v, 0) / y.length;
    ok(Math.abs(mean - 1) < 0.05, `rate ${rate}: mean ${mean}, expected ~1`);
    tf.dispose([x, dropped]);
  }
});

Deno.test("dropout() with the same seed draws the same mask, another seed another", async () => {
  const x = toTensor(randomData([30, 20], 1));
  const draw = async (seed: number) => {
    const y = dropout(x, 0.5, { training: true, seed });
    const values = await read(y);
    y.dispose();
    return values;
  };
  const a = await draw(5);
  deepStrictEqual(a, await draw(5));
  notDeepStrictEqual(a, await draw(6));
  x.dispose();
});

Deno.test("dropout() is the identity, returning x itself, when not training or at rate 0", async () => {
  const x = toTensor(randomData([4, 6], 2));
  strictEqual(dropout(x, 0.5, { training: false }), x);
  strictEqual(dropout(x, 0, { training: true, seed: 1 }), x);
  strictEqual(dropout(x, 0, { training: false }), x);
  ok(!x.isDisposed);
  deepStrictEqual(await read(dropout(x, 0.5, { training: false })), await read(x));
  x.dispose();
});

Deno.test("dropout() gradient is the mask times 1/(1-rate)", async () => {
  const x = toTensor(randomData([10, 8], 3));
  const R = toTensor(randomData([10, 8], 4));
  const [dx] = tf.grads((xi: tf.Tensor) =>
    tf.sum(tf.mul(dropout(xi, 0.4, { training: true, seed: 8 }), R))
  )([x]);
  const dropped = dropout(x, 0.4, { training: true, seed: 8 });
  const y = await read(dropped);
  const [g, r] = [await read(dx), await read(R)];
  for (let i = 0; i < g.length; i++) {
    const expected = y[i] === 0 ? 0 : r[i] / 0.6;
    ok(Math.abs(g[i] - expected) <= 1e-6 * Math.abs(expected), `dx[${i}] ${g[i]} vs ${expected}`);
  }
  ok(y.some((v) => v === 0) && y.some((v) => v !== 0));
  tf.dispose([x, R, dx, dropped]);
});

Deno.test("dropout() rejects a rate outside [0, 1)", () => {
  const x = tf.ones([2]);
  for (const rate of [-0.1, 1, 1.5, NaN]) {
    throws(
      () => dropout(x, rate, { training: true }),
      (e: Error) => e instanceof UsageError && e.message.includes(`rate is ${rate}`),
    );
  }
  x.dispose();
});

Deno.test("dropout() leaks no tensors", async () => {
  const x = tf.ones([8, 8]);
  await assertNoLeak(() => {
    tf.dispose(dropout(x, 0.3, { training: true, seed: 2 }));
    const [dx] = tf.grads((xi: tf.Tensor) => tf.sum(dropout(xi, 0.3, { training: true })))([x]);
    dx.dispose();
  });
  x.dispose();
});

Deno.test("dropout() draws the same seeded mask on cpu and wasm", async () => {
  const run = async () => {
    const x = toTensor(randomData([16, 9], 5));
    const y = dropout(x, 0.3, { training: true, seed: 21 });
    const values = await read(y);
    tf.dispose([x, y]);
    return values;
  };
  const cpu = await run();
  let wasm: Float64Array = new Float64Array();
  await onBackend("wasm", async () => {
    wasm = await run();
  });
  deepStrictEqual(wasm.map((v) => (v === 0 ? 0 : 1)), cpu.map((v) => (v === 0 ? 0 : 1)));
  ok(wasm.every((v, i) => Math.abs(v - cpu[i]) <= 1e-6 * Math.abs(cpu[i])));
});
