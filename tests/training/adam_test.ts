/**
 * FusedAdam: the same optimizer as tf.train.adam (slots, names, state), its
 * update checked against an independent float64 Adam, in place on native
 * (bit for bit the copying path, never under a clone), and no tensor growth.
 */
import { NATIVE } from "../_native.ts";
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { Rng } from "../../lib/rng.ts";
import { FusedAdam } from "../../lib/training/_adam.ts";
import { adamUpdate } from "../../lib/kernels/adam_update.ts";
import { captureOptimizer, restoreOptimizer } from "../../lib/training/optimizer_state.ts";
import { valuesOf } from "../../lib/native/backend.ts";
import { assertClose, normals, onBackend } from "../kernels/_helpers.ts";

const SHAPES = [[4, 6], [6], [1, 3]];

/** Applies gradients given by variable name (tfjs types them as variables; any tensor works). */
function apply(optimizer: tf.Optimizer, grads: Record<string, tf.Tensor>): void {
  optimizer.applyGradients(grads as Parameters<tf.Optimizer["applyGradients"]>[0]);
  tf.dispose(Object.values(grads));
}

/** Seeded gradients for `steps` steps, each large, small, zero and negative somewhere. */
function gradientSeries(steps: number): Float32Array[][] {
  const rng = new Rng(11);
  return Array.from({ length: steps }, (_, s) =>
    SHAPES.map((shape) => {
      const g = normals(rng, shape.reduce((a, b) => a * b, 1), s % 3 === 0 ? 5 : 0.01);
      g[0] = 0;
      return g;
    }));
}

/** Adam in float64, written from the formula (Kingma & Ba, ε outside the root as tfjs). */
function adam64(
  start: Float32Array[],
  grads: Float32Array[][],
  lr: number,
): Float64Array[] {
  const [b1, b2, eps] = [0.9, 0.999, 1e-7];
  const p = start.map((x) => Float64Array.from(x));
  const m = start.map((x) => new Float64Array(x.length));
  const v = start.map((x) => new Float64Array(x.length));
  grads.forEach((step, s) => {
    const t = s + 1;
    step.forEach((g, k) => {
      for (let i = 0; i < g.length; i++) {
        m[k][i] = b1 * m[k][i] + (1 - b1) * g[i];
        v[k][i] = b2 * v[k][i] + (1 - b2) * g[i] * g[i];
        const mHat = m[k][i] / (1 - b1 ** t), vHat = v[k][i] / (1 - b2 ** t);
        p[k][i] -= lr * mHat / (Math.sqrt(vHat) + eps);
      }
    });
  });
  return p;
}

async function runOptimizer(
  optimizer: tf.Optimizer,
  start: Float32Array[],
  grads: Float32Array[][],
): Promise<Float32Array[]> {
  const vars = start.map((x, k) => tf.variable(tf.tensor(x, SHAPES[k])));
  for (const step of grads) {
    apply(
      optimizer,
      Object.fromEntries(vars.map((v, k) => [v.name, tf.tensor(step[k], SHAPES[k])])),
    );
  }
  const out = await Promise.all(vars.map(async (v) => await v.data() as Float32Array));
  tf.dispose(vars);
  return out;
}

for (const backend of ["wasm", ...NATIVE, "cpu"]) {
  Deno.test(`FusedAdam agrees with float64 Adam and with tf.train.adam on ${backend}`, async () => {
    await onBackend(backend, async () => {
      const rng = new Rng(5);
      const start = SHAPES.map((s) => normals(rng, s.reduce((a, b) => a * b, 1)));
      const grads = gradientSeries(30);
      const fused = new FusedAdam(0.01), plain = tf.train.adam(0.01);
      const got = await runOptimizer(fused, start, grads);
      const tfjs = await runOptimizer(plain, start, grads);
      const reference = adam64(start, grads, 0.01);
      for (let k = 0; k < SHAPES.length; k++) {
        await assertClose(got[k], Float32Array.from(reference[k]), 1e-5, `vs float64, var ${k}`);
        // cpu runs tfjs's ops in tfjs's order: bit for bit. wasm and native round once per value.
        await assertClose(
          got[k],
          tfjs[k],
          backend === "cpu" ? 0 : 1e-6,
          `vs tf.train.adam, var ${k}`,
        );
      }
      fused.dispose();
      plain.dispose();
    });
  });
}

Deno.test({
  name:
    "FusedAdam on native: moments in place from the second step, bit for bit the copying path; never a caller's array or a clone's",
  ignore: NATIVE.length === 0,
  fn: async () => {
    await onBackend("native", async () => {
      const rng = new Rng(8);
      const start = SHAPES.map((s) => normals(rng, s.reduce((a, b) => a * b, 1)));
      const kept = start.map((x) => x.slice());
      const grads = gradientSeries(12);
      // Both sets over the same arrays: tfjs keeps a typed array given to tf.tensor as it is.
      const make = () => start.map((x, k) => tf.tidy(() => tf.variable(tf.tensor(x, SHAPES[k]))));
      const inPlace = make(), copied = make();
      const a = new FusedAdam(0.01), b = new FusedAdam(0.01);
      const moments = async (o: tf.Optimizer) =>
        (await o.getWeights()).slice(1).map(({ tensor }) => tensor);
      const arrays = async () => (await moments(a)).map((t) => valuesOf(tf.backend(), t));
      let second: Float32Array[] = [];
      for (const [s, step] of grads.entries()) {
        apply(
          a,
          Object.fromEntries(inPlace.map((v, k) => [v.name, tf.tensor(step[k], SHAPES[k])])),
        );
        if (s === 1) second = await arrays();
        // Clones share the moments' values: b's update must copy, and the clones keep theirs.
        const clones = s === 0 ? [] : (await moments(b)).map((t) => tf.clone(t));
        const before = await Promise.all(clones.map(async (c) => Array.from(await c.data())));
        apply(b, Object.fromEntries(copied.map((v, k) => [v.name, tf.tensor(step[k], SHAPES[k])])));
        for (const [k, c] of clones.entries()) {
          deepStrictEqual(Array.from(await c.data()), before[k], `clone ${k}, step ${s}`);
        }
        tf.dispose(clones);
      }
      (await arrays()).forEach((x, k) => strictEqual(x, second[k], `moment ${k} not in place`));
      start.forEach((x, k) => deepStrictEqual(Array.from(x), Array.from(kept[k]), `array ${k}`));
      const all = async (o: tf.Optimizer, vars: tf.Variable[]) =>
        await Promise.all([...vars, ...await moments(o)].map((t) => t.data()));
      const [wa, wb] = [await all(a, inPlace), await all(b, copied)];
      strictEqual(wa.length, 3 * SHAPES.length);
      wa.forEach((x, i) =>
        deepStrictEqual(Array.from(x), Array.from(wb[i]), `value or moment ${i}`)
      );
      tf.dispose([...inPlace, ...copied]);
      a.dispose();
      b.dispose();
    });
  },
});

Deno.test("adamUpdate() moves a value by lr against its gradient's sign on the first step", async () => {
  await onBackend("wasm", async () => {
    const [p, m, v] = adamUpdate(
      {
        p: tf.tensor1d([1, 1, 1]),
        g: tf.tensor1d([0.5, -2, 0]),
        m: tf.zeros([3]),
        v: tf.zeros([3]),
        accBeta1: tf.scalar(0.9),
        accBeta2: tf.scalar(0.999),
      },
      { learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
    );
    await assertClose(p, Float32Array.of(0.9, 1.1, 1), 1e-6, "value");
    await assertClose(m, Float32Array.of(0.05, -0.2, 0), 1e-6, "first moment");
    await assertClose(v, Float32Array.of(0.00025, 0.004, 0), 1e-6, "second moment");
  });
});

Deno.test("FusedAdam keeps tfjs Adam's slots: names, order, capture and restore", async () => {
  await onBackend("wasm", async () => {
    const w = tf.variable(tf.tensor1d([1, -2]), true, "fused_adam_w");
    const b = tf.variable(tf.tensor1d([3]), true, "fused_adam_b");
    const fused = new FusedAdam(0.05), plain = tf.train.adam(0.05);
    for (const optimizer of [fused, plain]) {
      apply(optimizer, {
        fused_adam_w: tf.tensor1d([0.1, 0.2]),
        fused_adam_b: tf.tensor1d([1]),
      });
    }
    const names = async (o: tf.Optimizer) => (await o.getWeights()).map((x) => x.name);
    deepStrictEqual(await names(fused), await names(plain));
    deepStrictEqual(await names(fused), [
      "iter",
      "fused_adam_w/m",
      "fused_adam_b/m",
      "fused_adam_w/v",
      "fused_adam_b/v",
    ]);
    // Saved and restored (as a checkpoint does), the next steps are the same.
    const saved = await captureOptimizer(fused, "adam");
    const restored = await restoreOptimizer(saved.json, saved.tensors);
    ok(restored instanceof FusedAdam);
    const copyW = tf.variable(w.clone(), true, "fused_adam_w2"),
      copyB = tf.variable(b.clone(), true, "fused_adam_b2");
    for (let i = 0; i < 3; i++) {
      apply(fused, {
        fused_adam_w: tf.tensor1d([0.3, -0.1]),
        fused_adam_b: tf.tensor1d([-1]),
      });
      apply(restored, {
        fused_adam_w2: tf.tensor1d([0.3, -0.1]),
        fused_adam_b2: tf.tensor1d([-1]),
      });
    }
    await assertClose(copyW, w, 0, "restored w");
    await assertClose(copyB, b, 0, "restored b");
    saved.dispose();
    tf.dispose([w, b, copyW, copyB]);
    fused.dispose();
    plain.dispose();
    restored.dispose();
  });
});

Deno.test("FusedAdam steps leave tf.memory().numTensors flat", async () => {
  await onBackend("wasm", () => {
    const w = tf.variable(tf.randomNormal([3, 4]));
    const optimizer = new FusedAdam(0.01);
    const counts: number[] = [];
    for (let i = 0; i < 6; i++) {
      tf.tidy(() => apply(optimizer, { [w.name]: tf.onesLike(w) }));
      counts.push(tf.memory().numTensors);
    }
    // The moments appear on the first step; from the second on nothing grows.
    strictEqual(new Set(counts.slice(1)).size, 1, `tensor counts: ${counts}`);
    optimizer.dispose();
    w.dispose();
  });
});
