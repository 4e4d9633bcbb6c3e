/**
 * Clipping folded into the update: `applyGradients` hands the clip's factor
 * to FusedAdam and FusedSgd (one C pass each on native, no scaled copy of
 * every gradient), with the same values to the bit as clipping first.
 */
import { deepStrictEqual, ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { Rng } from "../../lib/rng.ts";
import { applyGradients, clipByGlobalNorm, makeOptimizer } from "../../lib/training/train.ts";
import { normals, onBackend } from "../kernels/_helpers.ts";
import { NATIVE } from "../_native.ts";

const SHAPES = [[4, 6], [6], [1, 3]];

for (const backend of ["cpu", ...NATIVE]) {
  for (const kind of ["adam", "sgd"] as const) {
    Deno.test(`applyGradients with a clip: ${kind} takes the clip's factor, bit for bit clipping first, on ${backend}`, async () => {
      await onBackend(backend, async () => {
        const rng = new Rng(9);
        const start = SHAPES.map((s) => normals(rng, s.reduce((a, b) => a * b, 1)));
        const steps = [0, 1, 2, 3].map(() =>
          SHAPES.map((s) => normals(rng, s.reduce((a, b) => a * b, 1)))
        );
        const make = () => start.map((x, k) => tf.variable(tf.tensor(x.slice(), SHAPES[k])));
        const folded = make(), clipped = make();
        const a = makeOptimizer(kind, 0.01), b = makeOptimizer(kind, 0.01);
        const named = (vars: tf.Variable[], step: Float32Array[], scale: number) =>
          tf.tidy(() =>
            Object.fromEntries(
              vars.map((v, k) => [v.name, tf.mul(tf.tensor(step[k], SHAPES[k]), scale)]),
            )
          );
        let clips = 0;
        for (const [s, step] of steps.entries()) {
          // Large gradients on some steps, so that the clip acts; small ones on others.
          const big = s % 2 === 0 ? 50 : 0.01;
          const before = tf.memory().numTensors;
          const norm = applyGradients(a, named(folded, step, big), 1);
          clips += (await norm.data())[0] > 1 ? 1 : 0;
          norm.dispose();
          if (s > 0) deepStrictEqual(tf.memory().numTensors, before, "no tensor left behind");
          const { grads, norm: n2 } = clipByGlobalNorm(named(clipped, step, big), 1);
          b.applyGradients(grads);
          tf.dispose([...Object.values(grads), n2]);
        }
        ok(clips >= 2, `the clip acted on ${clips} steps`);
        // Each update counts one step, with the clip's factor or without, in place or not.
        deepStrictEqual([a.iterations, b.iterations], [steps.length, steps.length], "iterations");
        for (const [k, v] of folded.entries()) {
          deepStrictEqual(
            Array.from(await v.data()),
            Array.from(await clipped[k].data()),
            `variable ${k}`,
          );
        }
        tf.dispose([...folded, ...clipped]);
        a.dispose();
        b.dispose();
      });
    });
  }
}
