/**
 * The native optimizer pieces: the sum of squares behind the global gradient
 * norm against a float64 sum, and SGD in place bitwise equal to tfjs's SGD on
 * cpu (and left to tfjs when a clone shares the variable's values). Skipped
 * where no C compiler is found.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { tf, useBackend } from "../../lib/tf.ts";
import { sumOfSquares } from "../../lib/kernels/sum_squares.ts";
import { sgdUpdateInPlace } from "../../lib/kernels/sgd_update.ts";
import { adamUpdate, adamUpdateMomentsInPlace } from "../../lib/kernels/adam_update.ts";
import { makeOptimizer } from "../../lib/training/train.ts";
import { Rng } from "../../lib/rng.ts";
import { setLearningRate } from "../../lib/training/_optimizer_fields.ts";
import { NATIVE } from "../_native.ts";

const ignore = NATIVE.length === 0;

function values(seed: number, n: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

Deno.test({
  name: "native sumOfSquares equals a float64 sum of squares (odd lengths included)",
  ignore,
  fn: async () => {
    await useBackend("native", { threads: 1 });
    try {
      for (const n of [1, 7, 8, 9, 1000, 65_537]) {
        const x = values(n, n);
        let want = 0;
        for (const v of x) want += v * v;
        const got = (await sumOfSquares(tf.tensor1d(x)).data())[0];
        ok(Math.abs(got - want) <= 1e-6 * want, `n ${n}: ${got} vs ${want}`);
      }
    } finally {
      await useBackend("cpu");
    }
  },
});

/** The values after two SGD steps (rates 0.3 then 0.05) on `backend`. */
async function sgdSteps(backend: string): Promise<Float32Array> {
  await useBackend(backend, { threads: 1 });
  try {
    const optimizer = makeOptimizer("sgd", 0.3);
    const v = tf.variable(tf.tensor2d(values(1, 600), [20, 30]));
    optimizer.applyGradients({ [v.name]: tf.tensor2d(values(2, 600), [20, 30]) });
    setLearningRate(optimizer, 0.05);
    optimizer.applyGradients({ [v.name]: tf.tensor2d(values(3, 600), [20, 30]) });
    const out = await v.data() as Float32Array;
    v.dispose();
    optimizer.dispose();
    return out;
  } finally {
    await useBackend("cpu");
  }
}

Deno.test({
  name: "native SGD in place equals tfjs's SGD on cpu to the bit",
  ignore,
  fn: async () => {
    const [native, cpu] = [await sgdSteps("native"), await sgdSteps("cpu")];
    strictEqual(native.length, cpu.length);
    ok(native.every((x, i) => Object.is(x, cpu[i])), "every value equal");
  },
});

Deno.test({
  name:
    "native SGD leaves a variable whose values a clone shares to tfjs (the clone keeps its values)",
  ignore,
  fn: async () => {
    await useBackend("native", { threads: 1 });
    try {
      // A variable made from a tensor shares its values until that tensor is disposed.
      const variable = (values: number[]) => tf.tidy(() => tf.variable(tf.tensor1d(values)));
      const v = variable([1, 2, 3]);
      const copy = tf.clone(v);
      strictEqual(sgdUpdateInPlace(v, tf.tensor1d([1, 1, 1]), 1), false);
      const alone = variable([1, 2, 3]);
      strictEqual(sgdUpdateInPlace(alone, tf.tensor1d([1, 1, 1]), 1), true);
      strictEqual([...await alone.data()].join(), "0,1,2");
      strictEqual([...await copy.data()].join(), "1,2,3");
      tf.dispose([v, copy, alone]);
    } finally {
      await useBackend("cpu");
    }
  },
});

Deno.test({
  name:
    "native SGD and Adam's moments are not updated in place under a view of their values (a slice's, unstack's), nor when they are a view (the view keeps its values)",
  ignore,
  fn: async () => {
    await useBackend("native", { threads: 1 });
    try {
      const variable = (values: number[]) =>
        tf.tidy(() => tf.variable(tf.tensor2d(values, [2, 2])));
      const ones = tf.ones([2, 2]);
      // A slice of at least half the rows is a view of the variable's memory.
      const v = variable([1, 2, 3, 4]);
      const view = tf.slice(v, [1, 0], [1, 2]);
      strictEqual(sgdUpdateInPlace(v, ones, 1), false);
      strictEqual([...await view.data()].join(), "3,4");
      // A variable made from a view shares another tensor's memory.
      const source = tf.tensor2d([5, 6, 7, 8, 9, 10], [3, 2]);
      const fromView = tf.tidy(() => tf.variable(tf.slice(source, [1, 0], [2, 2])));
      strictEqual(sgdUpdateInPlace(fromView, ones, 1), false);
      strictEqual([...await source.data()].join(), "5,6,7,8,9,10");
      // Rows that cpu's Unpack cuts from a variable are views of its memory too.
      const stacked = variable([1, 2, 3, 4]);
      const rows = tf.unstack(stacked);
      strictEqual(sgdUpdateInPlace(stacked, ones, 1), false);
      strictEqual([...await rows[1].data()].join(), "3,4");
      // Unshared, the same update runs in place.
      const alone = variable([1, 2, 3, 4]);
      strictEqual(sgdUpdateInPlace(alone, ones, 1), true);
      strictEqual([...await alone.data()].join(), "0,1,2,3");

      // Adam: moments adamUpdate made are its own, updated in place unless a view shares them.
      const coefficients = { learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };
      const rest = () => ({
        p: tf.ones([2, 2]),
        g: tf.ones([2, 2]),
        accBeta1: tf.scalar(0.9),
        accBeta2: tf.scalar(0.999),
      });
      const moments = () =>
        tf.tidy(() => {
          const [p, m, second] = adamUpdate(
            { ...rest(), m: tf.zeros([2, 2]), v: tf.zeros([2, 2]) },
            coefficients,
          );
          p.dispose();
          return [tf.variable(m), tf.variable(second)];
        });
      const step = ([m, second]: tf.Variable[]) =>
        tf.tidy(() => adamUpdateMomentsInPlace({ ...rest(), m, v: second }, coefficients) ?? []);
      const shared = moments();
      const momentView = tf.slice(shared[0], [0, 0], [2, 2]);
      const before = [...await momentView.data()].join();
      deepStrictEqual(step(shared), []);
      strictEqual([...await momentView.data()].join(), before);
      const own = moments();
      const updated = step(own);
      ok(updated instanceof tf.Tensor, "unshared moments are updated in place");
      tf.dispose([
        v,
        view,
        source,
        fromView,
        alone,
        ones,
        momentView,
        updated as tf.Tensor,
        ...shared,
        ...own,
      ]);
    } finally {
      await useBackend("cpu");
    }
  },
});
