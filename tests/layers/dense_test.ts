/**
 * dense(): `x W + b` against a float64 reference for [N, in] and [T, B, in],
 * with and without bias; gradients of x, W and b against float64 finite
 * differences; the initialisers; input checks; no leaks; cpu = wasm.
 */
import { deepStrictEqual, notDeepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { tf, useBackend } from "../../lib/tf.ts";
import { UsageError } from "../../lib/errors.ts";
import { dense } from "../../lib/layers/dense.ts";
import {
  assertClose,
  assertNoLeak,
  type Data,
  dot,
  finiteDifferences,
  onBackend,
  randomData,
  read,
  toTensor,
} from "./_fd.ts";

await useBackend("cpu");

const [IN, OUT] = [5, 3];

/** Float64 reference: rows `[N, in]` times `W [in, out]` plus `b`. */
function dense64(x: Float64Array, W: Float64Array, b: Float64Array | null): Float64Array {
  const N = x.length / IN;
  const y = new Float64Array(N * OUT);
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < OUT; j++) {
      let s = b ? b[j] : 0;
      for (let i = 0; i < IN; i++) s += x[n * IN + i] * W[i * OUT + j];
      y[n * OUT + j] = s;
    }
  }
  return y;
}

/** A layer with seeded random weights (bias too, so a zero bias cannot hide a bug). */
function layerWith(bias: boolean, seed: number) {
  const layer = dense({ inputSize: IN, outputSize: OUT, bias, seed });
  const W = randomData([IN, OUT], seed + 1), b = randomData([OUT], seed + 2);
  layer.kernel.assign(toTensor(W));
  if (layer.bias) layer.bias.assign(toTensor(b));
  return { layer, W, b: bias ? b : null };
}

for (const bias of [true, false]) {
  for (const shape of [[4, IN], [3, 2, IN]]) {
    const label = `[${shape}], bias ${bias}`;
    Deno.test(`dense() matches float64 x W + b and its finite differences, ${label}`, async () => {
      const { layer, W, b } = layerWith(bias, 20);
      const x: Data = randomData(shape, 21);
      const R = randomData([...shape.slice(0, -1), OUT], 22);
      const xT = toTensor<tf.Tensor2D | tf.Tensor3D>(x), rT = toTensor(R);
      const y = layer.apply(xT);
      deepStrictEqual(y.shape, [...shape.slice(0, -1), OUT]);
      await assertClose(y, dense64(x.f64, W.f64, b?.f64 ?? null), 1e-6, `${label} forward`, 1e-6);
      // Loss Σ R ⊙ y: gradients from tf (float32) against float64 finite differences.
      const loss64 = () => dot(dense64(x.f64, W.f64, b?.f64 ?? null), R.f64);
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(xT), rT)) as tf.Scalar);
      const [dx] = tf.grads((xi: tf.Tensor) => tf.sum(tf.mul(layer.apply(xi as tf.Tensor2D), rT)))([
        xT,
      ]);
      await assertClose(dx, finiteDifferences(loss64, x.f64), 1e-4, `${label} dx`, 1e-6);
      await assertClose(
        grads[layer.kernel.name],
        finiteDifferences(loss64, W.f64),
        1e-4,
        `${label} dW`,
        1e-6,
      );
      if (layer.bias && b) {
        await assertClose(
          grads[layer.bias.name],
          finiteDifferences(loss64, b.f64),
          1e-4,
          `${label} db`,
          1e-6,
        );
      }
      strictEqual(Object.keys(grads).length, bias ? 2 : 1);
      tf.dispose([xT, rT, y, dx, ...Object.values(grads)]);
      layer.dispose();
    });
  }
}

Deno.test("dense() initialisers: seeded, xavier within its bound, normal std 0.01, zero bias", async () => {
  const make = (seed: number, init?: "normal" | "xavier") =>
    dense({ inputSize: 40, outputSize: 30, seed, init });
  const [a, b, c, n] = [make(1), make(1), make(2), make(1, "normal")];
  const wa = await read(a.kernel);
  deepStrictEqual(wa, await read(b.kernel));
  notDeepStrictEqual(wa, await read(c.kernel));
  const bound = Math.sqrt(6 / 70);
  ok(wa.every((w) => Math.abs(w) <= bound), "xavier within sqrt(6 / (in + out))");
  ok(wa.some((w) => Math.abs(w) > 0.8 * bound), "xavier reaches near its bound");
  const wn = await read(n.kernel);
  const sd = Math.sqrt(wn.reduce((s, w) => s + w * w, 0) / wn.length);
  ok(Math.abs(sd - 0.01) < 0.001, `normal std ${sd}, expected 0.01`);
  deepStrictEqual(await read(a.bias!), new Float64Array(30));
  strictEqual(a.trainableVariables.length, 2);
  const noBias = dense({ inputSize: 2, outputSize: 2, bias: false });
  strictEqual(noBias.trainableVariables.length, 1);
  strictEqual(noBias.bias, undefined);
  for (const layer of [a, b, c, n, noBias]) layer.dispose();
});

Deno.test("dense() rejects bad options and inputs of the wrong shape", () => {
  const usage = (f: () => unknown, part: string) =>
    throws(f, (e: Error) => e instanceof UsageError && e.message.includes(part));
  usage(() => dense({ inputSize: 0, outputSize: 2 }), "inputSize is 0");
  usage(() => dense({ inputSize: 2, outputSize: 2.5 }), "outputSize is 2.5");
  usage(() => dense({ inputSize: 2, outputSize: 2, init: "orthogonal" as "normal" }), "init");
  const layer = dense({ inputSize: IN, outputSize: OUT });
  const wrong = tf.zeros([2, IN + 1]) as tf.Tensor2D;
  usage(() => layer.apply(wrong), `x has shape [2,${IN + 1}], expected [N, ${IN}]`);
  const rank1 = tf.zeros([IN]);
  usage(() => layer.apply(rank1 as unknown as tf.Tensor2D), "expected [N, 5] or [T, B, 5]");
  tf.dispose([wrong, rank1]);
  layer.dispose();
});

Deno.test("dense() forward and backward leak no tensors", async () => {
  const layer = dense({ inputSize: IN, outputSize: OUT });
  const x = tf.ones([3, 2, IN]) as tf.Tensor3D;
  await assertNoLeak(() => {
    const y = layer.apply(x);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(layer.apply(x))) as tf.Scalar);
    tf.dispose([y, value, ...Object.values(grads)]);
  });
  x.dispose();
  layer.dispose();
});

Deno.test("dense() forward and gradients agree on cpu and wasm", async () => {
  const run = async () => {
    const { layer } = layerWith(true, 30);
    const x = toTensor<tf.Tensor3D>(randomData([3, 2, IN], 31));
    const R = toTensor(randomData([3, 2, OUT], 32));
    const y = layer.apply(x);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x), R)) as tf.Scalar);
    const out = [y, grads[layer.kernel.name], grads[layer.bias!.name]];
    const result = await Promise.all(out.map(read));
    tf.dispose([x, R, y, ...Object.values(grads)]);
    layer.dispose();
    return result;
  };
  const cpu = await run();
  let wasm: Float64Array[] = [];
  await onBackend("wasm", async () => {
    wasm = await run();
  });
  for (const [i, name] of ["y", "dW", "db"].entries()) {
    await assertClose(wasm[i], cpu[i], 1e-5, `wasm ${name}`, 1e-6);
  }
});
