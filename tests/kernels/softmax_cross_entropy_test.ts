/**
 * softmaxCrossEntropy: value against a float64 reference (plain and class
 * weighted), gradient against finite differences, wasm and cpu alike, and the
 * labels may be freed before the backward pass.
 */
import { ok, throws } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { softmaxCrossEntropy } from "../../lib/kernels/softmax_cross_entropy.ts";
import {
  assertClose,
  assertNoLeak,
  finiteDifferences,
  onBackend,
  randomData,
  read,
  toTensor,
} from "../layers/_fd.ts";
import { NATIVE } from "../_native.ts";

const [N, C] = [6, 5];
const LABELS = [0, 4, 2, 2, 1, 4];
const WEIGHTS = [0.5, 2, 1, 3, 0.25];

/** `Σ w[y] (-log softmax(x)[y]) / Σ w[y]` in float64. */
function loss64(x: Float64Array, weights?: number[]): number {
  let total = 0, weightSum = 0;
  for (let n = 0; n < N; n++) {
    const row = x.subarray(n * C, (n + 1) * C);
    const max = Math.max(...row);
    const logSum = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    const w = weights ? weights[LABELS[n]] : 1;
    total += w * (logSum - row[LABELS[n]]);
    weightSum += w;
  }
  return total / weightSum;
}

for (const backend of ["wasm", "cpu", ...NATIVE]) {
  for (const weighted of [false, true]) {
    const name = weighted ? "class-weighted" : "plain";
    Deno.test(`softmaxCrossEntropy() ${name}: value and gradient against float64 on ${backend}`, async () => {
      await onBackend(backend, async () => {
        const data = randomData([N, C], 3, 2);
        const weights = weighted ? tf.tensor1d(WEIGHTS) : undefined;
        const labels = tf.tensor1d(LABELS, "int32");
        const f = (x: tf.Tensor) => softmaxCrossEntropy(x as tf.Tensor2D, labels, weights);
        const x = toTensor(data);
        await assertClose(
          f(x),
          Float64Array.of(loss64(data.f64, weighted ? WEIGHTS : undefined)),
          1e-6,
          "loss",
        );
        const numeric = finiteDifferences(
          () => loss64(data.f64, weighted ? WEIGHTS : undefined),
          data.f64,
        );
        await assertClose(await read(tf.grad(f)(x)), numeric, 1e-5, "gradient", 1e-7);
        // The gradient of 3 * loss: the incoming dy scales it.
        const scaled = tf.grad((z: tf.Tensor) => tf.mul(f(z), 3))(x);
        await assertClose(
          await read(scaled),
          numeric.map((g) => 3 * g),
          1e-5,
          "3 * gradient",
          1e-7,
        );
        await assertNoLeak(() => tf.dispose(tf.grad(f)(x)));
      });
    });
  }
}

Deno.test("softmaxCrossEntropy() keeps labels made in a tidy for its backward pass", async () => {
  await onBackend("wasm", async () => {
    const data = randomData([N, C], 4);
    const x = tf.variable(toTensor(data));
    const { grads } = tf.variableGrads(
      () =>
        tf.tidy(() =>
          softmaxCrossEntropy(x as tf.Tensor as tf.Tensor2D, tf.tensor1d(LABELS, "int32"))
        ),
      [x],
    );
    const numeric = finiteDifferences(() => loss64(data.f64), data.f64);
    await assertClose(await read(grads[x.name]), numeric, 1e-5, "gradient", 1e-7);
    x.dispose();
  });
});

for (const backend of ["wasm", ...NATIVE]) {
  Deno.test(`softmaxCrossEntropy() on ${backend} refuses a label outside [0, C)`, async () => {
    await onBackend(backend, () => {
      for (const bad of [3, -1]) {
        throws(
          () =>
            softmaxCrossEntropy(tf.zeros([2, 3]) as tf.Tensor2D, tf.tensor1d([0, bad], "int32")),
          new RegExp(`label ${bad} at 1 is outside \\[0, 3\\)`),
        );
      }
    });
  });
}

Deno.test({
  name: "softmaxCrossEntropy() on native is one C kernel each way and agrees with wasm",
  ignore: NATIVE.length === 0,
  fn: async () => {
    const data = randomData([N, C], 5, 2);
    const weights = () => tf.tensor1d(WEIGHTS);
    const run = (x: tf.Tensor) => {
      const labels = tf.tensor1d(LABELS, "int32");
      return tf.grad((z: tf.Tensor) => softmaxCrossEntropy(z as tf.Tensor2D, labels, weights()))(
        x,
      );
    };
    let onWasm: Float64Array = new Float64Array();
    await onBackend("wasm", async () => {
      onWasm = await read(run(toTensor(data)));
    });
    await onBackend("native", async () => {
      const x = toTensor(data);
      const { kernelNames } = await tf.profile(() => run(x));
      for (const kernel of ["RnnDenoCrossEntropy", "RnnDenoCrossEntropyGrad"]) {
        ok(kernelNames.includes(kernel), `${kernel} not in ${kernelNames}`);
      }
      await assertClose(run(x), onWasm, 1e-6, "gradient vs wasm");
    });
  },
});
