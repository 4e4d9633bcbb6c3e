/**
 * matMul and matMulOfConstant: values and gradients against float64 products
 * (`da = dy b^T`, `db = a^T dy`) on every cpu-side backend (native uses
 * transposed operands where the others use transposed copies).
 */
import { ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { Rng } from "../../lib/rng.ts";
import { matMul, matMulOfConstant } from "../../lib/ops/matmul.ts";
import { assertClose, normals, onBackend } from "../kernels/_helpers.ts";
import { NATIVE } from "../_native.ts";
import { product64 } from "../kernels/_reference64.ts";

/** `[N, K] x [K, M]` as float32, from the float64 product (`ta`/`tb`: an operand read transposed). */
function product(
  a: Float32Array,
  b: Float32Array,
  N: number,
  K: number,
  M: number,
  ta = false,
  tb = false,
) {
  return Float32Array.from(product64(a, b, [N, K, M], ta, tb));
}

const [N, K, M] = [7, 5, 6];
const rng = new Rng(4);
const A = normals(rng, N * K), B = normals(rng, K * M), DY = normals(rng, N * M);

for (const backend of ["cpu", ...NATIVE, "wasm"]) {
  Deno.test(`matMul and matMulOfConstant: values and gradients equal float64 products on ${backend}`, async () => {
    await onBackend(backend, async () => {
      const a = tf.tensor2d(A, [N, K]), b = tf.tensor2d(B, [K, M]), dy = tf.tensor2d(DY, [N, M]);
      const loss = (x: tf.Tensor) => tf.sum(tf.mul(x, dy));
      const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
        loss(matMul(x as tf.Tensor2D, y as tf.Tensor2D))
      )([a, b]);
      const want = {
        y: product(A, B, N, K, M),
        da: product(DY, B, N, M, K, false, true),
        db: product(A, DY, K, N, M, true),
      };
      await assertClose(await matMul(a, b).data() as Float32Array, want.y, 1e-5, "a b");
      await assertClose(await da.data() as Float32Array, want.da, 1e-5, "da");
      await assertClose(await db.data() as Float32Array, want.db, 1e-5, "db");
      const dbConstant = tf.grad((y: tf.Tensor) => loss(matMulOfConstant(a, y as tf.Tensor2D)))(b);
      await assertClose(
        await matMulOfConstant(a, b).data() as Float32Array,
        want.y,
        1e-5,
        "constant a b",
      );
      await assertClose(await dbConstant.data() as Float32Array, want.db, 1e-5, "constant db");
      // A batched product: each batch entry its own product.
      const a3 = tf.stack([a, tf.neg(a)]) as tf.Tensor3D, b3 = tf.stack([b, b]) as tf.Tensor3D;
      const db3 = tf.grad((y: tf.Tensor) => tf.sum(matMul(a3, y as tf.Tensor3D)))(b3);
      const col = product(A, new Float32Array(N * M).fill(1), K, N, M, true);
      const got3 = await db3.data() as Float32Array;
      await assertClose(got3.slice(0, K * M), col, 1e-5, "batched db [0]");
      await assertClose(got3.slice(K * M), col.map((v) => -v), 1e-5, "batched db [1]");
      ok(want.db.some((v) => v !== 0));
      tf.dispose([a, b, dy, da, db, dbConstant, a3, b3, db3]);
    });
  });
}
