/** The wasm block-copy kernels give what tf.slice / tf.concat give, gradient included. */
import { tf } from "../../lib/tf.ts";
import { block, concat2d, split2d } from "../../lib/kernels/_copy.ts";
import { assertClose, onBackend } from "./_helpers.ts";

for (const backend of ["wasm", "cpu"]) {
  Deno.test(`block() equals tf.slice, value and gradient, on ${backend}`, async () => {
    await onBackend(backend, async () => {
      const x = tf.reshape(tf.range(0, 7 * 9), [7, 9]) as tf.Tensor2D;
      for (const [r, nr, c, nc] of [[0, 7, 0, 9], [2, 3, 0, 9], [1, 4, 2, 5], [6, 1, 8, 1]]) {
        await assertClose(
          block(x, r, nr, c, nc),
          tf.slice(x, [r, c], [nr, nc]),
          0,
          `block ${[r, nr, c, nc]}`,
        );
        const w = tf.randomNormal([nr, nc]);
        const g = tf.grad((y: tf.Tensor) =>
          tf.sum(tf.mul(block(y as tf.Tensor2D, r, nr, c, nc), w))
        )(x);
        const e = tf.grad((y: tf.Tensor) => tf.sum(tf.mul(tf.slice(y, [r, c], [nr, nc]), w)))(x);
        await assertClose(g, e, 0, `block gradient ${[r, nr, c, nc]}`);
      }
      await assertClose(block(x, 3, 2), tf.slice(x, [3, 0], [2, 9]), 0, "default columns");
    });
  });

  Deno.test(`concat2d() equals tf.concat along rows and columns on ${backend}`, async () => {
    await onBackend(backend, async () => {
      const a = tf.randomNormal([3, 4]) as tf.Tensor2D, b = tf.randomNormal([3, 2]) as tf.Tensor2D;
      const c = tf.randomNormal([5, 4]) as tf.Tensor2D;
      await assertClose(concat2d([a, b, a], 1), tf.concat([a, b, a], 1), 0, "columns");
      await assertClose(concat2d([a, c, a], 0), tf.concat([a, c, a], 0), 0, "rows");
      await assertClose(concat2d([c], 0), c, 0, "one tensor");
    });
  });
}

for (const backend of ["wasm", "cpu"]) {
  Deno.test(`split2d() equals tf.split along rows and columns on ${backend}`, async () => {
    await onBackend(backend, async () => {
      const x = tf.reshape(tf.range(0, 6 * 8), [6, 8]) as tf.Tensor2D;
      const rows = split2d(x, 3, 0), expectedRows = tf.split(x, 3, 0);
      for (let i = 0; i < 3; i++) await assertClose(rows[i], expectedRows[i], 0, `rows ${i}`);
      const cols = split2d(x, [2, 5, 1], 1), expectedCols = tf.split(x, [2, 5, 1], 1);
      for (let i = 0; i < 3; i++) await assertClose(cols[i], expectedCols[i], 0, `columns ${i}`);
    });
  });
}
