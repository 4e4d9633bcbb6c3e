/**
 * The native length ops against the tf-ops masks they replace (lib/layers/lengths.ts):
 * the same values, NaN and Inf in the padding kept out, and the same gradients.
 */
import { deepStrictEqual, ok, throws } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { atLastSteps, zeroPastLengths } from "../../lib/kernels/length_mask.ts";
import { atLastStep, lastStepMask, stepMask } from "../../lib/layers/lengths.ts";
import { onBackend } from "./_helpers.ts";
import { NATIVE } from "../_native.ts";

const T = 4, B = 5, W = 3;
/** Unsorted, with a full and a one-step sequence; 0 and T + 1 only in the out-of-range test. */
const LENGTHS = [4, 1, 3, 2, 4];

/** `[T, B, W]` values, NaN and Inf at some padded steps. */
function values(): Float32Array {
  const x = Float32Array.from({ length: T * B * W }, (_, i) => Math.sin(i * 1.7) * 3);
  x[(1 * B + 1) * W] = NaN; // t = 1, b = 1: padding
  x[(3 * B + 3) * W + 2] = Infinity; // t = 3, b = 3: padding
  return x;
}

/** The tf-ops reference: selects with the masks of lengths.ts. */
function reference(x: tf.Tensor3D, lengths: number[]) {
  return tf.tidy(() => {
    const lens = tf.tensor1d(lengths, "int32");
    const real = tf.broadcastTo(tf.expandDims(stepMask(lens, T), 2), [T, B, W]);
    const zeroed = tf.where(real, x, tf.zerosLike(x)) as tf.Tensor3D;
    return { zeroed, last: atLastStep(x, lastStepMask(lens, T)) };
  });
}

/** Values and the gradients of a weighted sum of both ops' results. */
async function run(native: boolean, lengths: number[]) {
  const x = tf.tensor3d(values(), [T, B, W]);
  const u = tf.tensor3d(Float32Array.from({ length: T * B * W }, (_, i) => (i % 7) - 3), [T, B, W]);
  const v = tf.tensor2d(Float32Array.from({ length: B * W }, (_, i) => (i % 5) + 1), [B, W]);
  const ops = (x: tf.Tensor3D) =>
    native
      ? { zeroed: zeroPastLengths(x, lengths), last: atLastSteps(x, lengths) }
      : reference(x, lengths);
  const { zeroed, last } = ops(x);
  // The gradient of x where it is finite: the selects give 0 at NaN too.
  const dx = tf.grad((x: tf.Tensor) => {
    const r = ops(x as tf.Tensor3D);
    return tf.add(tf.sum(tf.mul(r.zeroed, u)), tf.sum(tf.mul(r.last, v)));
  })(x);
  const out = {
    zeroed: Array.from(await zeroed.data()),
    last: Array.from(await last.data()),
    dx: Array.from(await dx.data()),
  };
  tf.dispose([x, u, v, zeroed, last, dx]);
  return out;
}

for (const backend of NATIVE) {
  Deno.test("zeroPastLengths and atLastSteps equal the tf-ops selects, values and gradients, NaN and Inf in the padding", async () => {
    const want = await run(false, LENGTHS);
    await onBackend(backend, async () => {
      const before = tf.memory().numTensors;
      const got = await run(true, LENGTHS);
      deepStrictEqual(got, want);
      ok(got.zeroed.every(Number.isFinite) && got.last.every(Number.isFinite));
      ok(got.zeroed.some((v) => v !== 0) && got.dx.some((v) => v !== 0), "not trivially zero");
      deepStrictEqual(tf.memory().numTensors, before, "no tensor leaks");
    });
  });

  Deno.test("atLastSteps: a length outside 1..T gives zeros, as the mask does; zeroPastLengths keeps all past T", async () => {
    const lengths = [0, 1, T + 1, 2, T];
    const want = await run(false, lengths);
    await onBackend(backend, async () => {
      const got = await run(true, lengths);
      deepStrictEqual(got.last, want.last);
      deepStrictEqual(got.dx.length, want.dx.length);
      const x = tf.tensor3d(values(), [T, B, W]);
      const zeroed = await zeroPastLengths(x, lengths).data();
      // b = 2 (length T + 1) keeps every step, b = 0 (length 0) none.
      for (let t = 0; t < T; t++) {
        deepStrictEqual(zeroed[(t * B + 0) * W], 0);
        deepStrictEqual(zeroed[(t * B + 2) * W], values()[(t * B + 2) * W]);
      }
      x.dispose();
    });
  });

  Deno.test("the length ops refuse a shape that does not fit, and other backends", async () => {
    await onBackend(backend, () => {
      const x = tf.zeros([T, B, W]) as tf.Tensor3D;
      throws(() => zeroPastLengths(x, [1, 2]), /expected x \[T, B, W\] and B lengths/);
      throws(() => atLastSteps(x, [1, 2]), /expected x \[T, B, W\] and B lengths/);
      x.dispose();
    });
    await onBackend("cpu", () => {
      const x = tf.zeros([T, B, W]) as tf.Tensor3D;
      throws(() => zeroPastLengths(x, LENGTHS), /native backend only/);
      x.dispose();
    });
  });
}
