/** linear() is x W + b with the same value and gradients as tfjs autograd. */
import { throws } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { linear } from "../../lib/kernels/linear.ts";
import { assertClose, onBackend } from "./_helpers.ts";

for (const backend of ["cpu", "wasm", "webgpu"]) {
  Deno.test(`linear() equals matMul + add and their autograd on ${backend}`, async () => {
    await onBackend(backend, async () => {
      const x = tf.randomNormal([6, 5], 0, 1, "float32", 1) as tf.Tensor2D;
      const W = tf.randomNormal([5, 3], 0, 1, "float32", 2) as tf.Tensor2D;
      const b = tf.randomNormal([3], 0, 1, "float32", 3) as tf.Tensor1D;
      const R = tf.randomNormal([6, 3], 0, 1, "float32", 4);
      await assertClose(linear(x, W, b), tf.add(tf.matMul(x, W), b), 0, "value", 1e-6);
      const f = (y: typeof linear) => (xi: tf.Tensor, Wi: tf.Tensor, bi: tf.Tensor) =>
        tf.sum(tf.mul(y(xi as tf.Tensor2D, Wi as tf.Tensor2D, bi as tf.Tensor1D), R)) as tf.Scalar;
      const plain = (xi: tf.Tensor2D, Wi: tf.Tensor2D, bi: tf.Tensor1D) =>
        tf.add(tf.matMul(xi, Wi), bi) as tf.Tensor2D;
      const g = tf.grads(f(linear))([x, W, b]), e = tf.grads(f(plain))([x, W, b]);
      for (const [i, n] of ["dx", "dW", "db"].entries()) await assertClose(g[i], e[i], 1e-5, n);
    });
  });
}

Deno.test("linear() rejects mismatched shapes, naming them", () => {
  throws(
    () =>
      linear(
        tf.zeros([2, 3]) as tf.Tensor2D,
        tf.zeros([4, 5]) as tf.Tensor2D,
        tf.zeros([5]) as tf.Tensor1D,
      ),
    /linear: expected x \[N, K\], W \[K, M\], b \[M\], got x \[2,3\], W \[4,5\], b \[5\]/,
  );
});
