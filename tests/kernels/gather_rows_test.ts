/** gatherRows gives what tf.gather gives, and refuses an id outside the table. */
import { throws } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { gatherRows } from "../../lib/kernels/gather_rows.ts";
import { assertClose, onBackend } from "./_helpers.ts";

for (const backend of ["wasm", "cpu"]) {
  Deno.test(`gatherRows() equals tf.gather on ${backend} (repeats, first and last row)`, async () => {
    await onBackend(backend, async () => {
      const table = tf.randomNormal([9, 5], 0, 1, "float32", 3) as tf.Tensor2D;
      const ids = tf.tensor1d([8, 0, 3, 3, 8, 1, 0], "int32");
      await assertClose(gatherRows(table, ids), tf.gather(table, ids), 0, "rows");
      const one = tf.tensor1d([4], "int32");
      await assertClose(gatherRows(table, one), tf.gather(table, one), 0, "one row");
    });
  });
}

Deno.test("gatherRows() on wasm throws for an id outside [0, V)", async () => {
  await onBackend("wasm", () => {
    const table = tf.zeros([3, 2]) as tf.Tensor2D;
    throws(
      () => gatherRows(table, tf.tensor1d([0, 3], "int32")),
      /index 3 at 1 is outside \[0, 3\)/,
    );
    throws(() => gatherRows(table, tf.tensor1d([-1], "int32")), /index -1 at 0/);
  });
});
