/**
 * linearCrossEntropy: on native (C calls in one op) the same loss and
 * gradients bit for bit as softmaxCrossEntropy(linear(...)) run as tfjs ops
 * there; on cpu those ops, checked against a float64 loss. Shapes that do not
 * fit throw; on native a target outside the classes throws too.
 */
import { deepStrictEqual, ok, throws } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { Rng } from "../../lib/rng.ts";
import { linear } from "../../lib/kernels/linear.ts";
import { linearCrossEntropy } from "../../lib/kernels/linear_cross_entropy.ts";
import { softmaxCrossEntropy } from "../../lib/kernels/softmax_cross_entropy.ts";
import { normals, onBackend } from "./_helpers.ts";
import { NATIVE } from "../_native.ts";

type Case = { x: tf.Tensor2D; W: tf.Tensor2D; b: tf.Tensor1D; targets: Int32Array };

function makeCase(N: number, K: number, C: number): Case {
  const rng = new Rng(N * 131 + K * 17 + C);
  return {
    x: tf.tensor2d(normals(rng, N * K), [N, K]),
    W: tf.tensor2d(normals(rng, K * C, 0.5), [K, C]),
    b: tf.tensor1d(normals(rng, C, 0.1)),
    targets: Int32Array.from({ length: N }, () => Math.floor(rng.next() * C)),
  };
}

/** The float64 mean cross-entropy of x W + b (the values read back as float32). */
async function loss64(c: Case): Promise<number> {
  const [X, W, b] = await Promise.all([c.x.data(), c.W.data(), c.b.data()]);
  const [N, K] = c.x.shape, C = c.W.shape[1];
  let total = 0;
  for (let n = 0; n < N; n++) {
    const z = Array.from({ length: C }, (_, j) => {
      let s = b[j];
      for (let k = 0; k < K; k++) s += X[n * K + k] * W[k * C + j];
      return s;
    });
    const max = Math.max(...z);
    const logSum = Math.log(z.reduce((a, v) => a + Math.exp(v - max), 0)) + max;
    total += logSum - z[c.targets[n]];
  }
  return total / N;
}

const SHAPES = [[1, 1, 2], [7, 5, 3], [70, 33, 28], [45, 256, 28]];

for (const backend of ["cpu", ...NATIVE]) {
  Deno.test(`linearCrossEntropy equals softmaxCrossEntropy(linear(...)) on ${backend}, gradients bit for bit`, async () => {
    await onBackend(backend, async () => {
      for (const [N, K, C] of SHAPES) {
        const c = makeCase(N, K, C), label = `${backend} ${N}x${K}x${C}`;
        const fused = (x: tf.Tensor, W: tf.Tensor, b: tf.Tensor) =>
          linearCrossEntropy(x as tf.Tensor2D, W as tf.Tensor2D, b as tf.Tensor1D, c.targets);
        const apart = (x: tf.Tensor, W: tf.Tensor, b: tf.Tensor) =>
          softmaxCrossEntropy(
            linear(x as tf.Tensor2D, W as tf.Tensor2D, b as tf.Tensor1D),
            tf.tensor1d(c.targets, "int32"),
          );
        const a = tf.valueAndGrads(fused)([c.x, c.W, c.b]);
        const e = tf.valueAndGrads(apart)([c.x, c.W, c.b]);
        deepStrictEqual(a.value.shape, []);
        deepStrictEqual(await a.value.data(), await e.value.data(), `${label} loss`);
        for (let i = 0; i < 3; i++) {
          deepStrictEqual(await a.grads[i].data(), await e.grads[i].data(), `${label} grad ${i}`);
        }
        const want = await loss64(c), got = (await a.value.data())[0];
        ok(
          Math.abs(got - want) <= 1e-5 * Math.max(1, Math.abs(want)),
          `${label}: ${got} vs ${want}`,
        );
        throws(
          () => linearCrossEntropy(c.x, c.W, c.b, new Int32Array(N + 1)),
          /expected x \[N, K\]/,
        );
        if (backend === "native") { // the tf ops' loss does not check its labels
          throws(() => linearCrossEntropy(c.x, c.W, c.b, new Int32Array(N).fill(C)), /outside/);
        }
        tf.dispose([c.x, c.W, c.b, a.value, ...a.grads, e.value, ...e.grads]);
      }
    });
  });
}
