/**
 * webgpuSequence (WGSL step programs) against fusedSequence (tfjs ops), both on
 * the webgpu backend: outputs, final state and every gradient, small shapes.
 */
import { ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import type { FusedWeights } from "../../lib/cells/types.ts";
import { fusedSequence } from "../../lib/kernels/fused_sequence.ts";
import { webgpuSequence } from "../../lib/kernels/webgpu/sequence.ts";
import {
  type CaseData,
  caseTensors,
  compareSequences,
  makeCase,
  onBackend,
  unpack,
  VARIANTS,
} from "./_helpers.ts";

const RTOL = 1e-4;

function compare(c: CaseData, label: string): Promise<void> {
  return compareSequences(webgpuSequence, fusedSequence, c, label, {
    rtol: RTOL,
    atol: 0,
    gradRtol: RTOL,
  });
}

const SHAPES = [
  { T: 1, B: 1, D: 2, H: 3 },
  { T: 5, B: 3, D: 4, H: 8 },
  { T: 5, B: 1, D: 3, H: 3 },
  { T: 1, B: 3, D: 2, H: 8 },
];

for (const [v, variant] of VARIANTS.entries()) {
  Deno.test(`webgpuSequence() equals fusedSequence on webgpu, gradients included: ${variant.name}`, async () => {
    await onBackend("webgpu", async () => {
      // H = 3: one unit per invocation; H = 8: four (vec4), and the WGSL weight gradients.
      for (const [s, dims] of SHAPES.entries()) {
        await compare(
          makeCase(variant, dims, 500 + 10 * v + s),
          `${variant.name} ${JSON.stringify(dims)}`,
        );
      }
    });
  });
}

Deno.test("webgpuSequence() returns null off webgpu", () => {
  const c = makeCase(VARIANTS[4], SHAPES[0], 1);
  const t = caseTensors(c);
  const { weights, xs, state } = unpack(t.names, t.inputs);
  ok(webgpuSequence(c.spec, weights, xs, state) === null);
  tf.dispose(t.inputs.concat([t.R, t.Rh, t.Rc]));
});

Deno.test("webgpuSequence() keeps the tensor count flat over 20 training steps", async () => {
  await onBackend("webgpu", async () => {
    for (const [variant, H] of VARIANTS.flatMap((v) => [[v, 5], [v, 8]] as const)) {
      const c = makeCase(variant, { T: 4, B: 2, D: 3, H }, 900);
      const t = caseTensors(c);
      const { weights, xs, state } = unpack(t.names, t.inputs);
      const vars = {
        Wx: tf.variable(weights.Wx),
        Wh: tf.variable(weights.Wh),
        b: tf.variable(weights.b),
        bhh: weights.bhh ? tf.variable(weights.bhh) : undefined,
      };
      const lr = tf.scalar(0.01);
      const step = () => {
        const { grads, value } = tf.variableGrads(() => {
          const r = webgpuSequence(c.spec, vars as FusedWeights, xs, state);
          ok(r !== null, `${variant.name}: webgpuSequence returned null`);
          let loss = tf.sum(tf.mul(r.outputs, t.R));
          if (r.state.c) loss = tf.add(loss, tf.sum(tf.mul(r.state.c, t.Rc)));
          return loss as tf.Scalar;
        });
        tf.tidy(() => {
          for (const [name, g] of Object.entries(grads)) {
            const v = Object.values(vars).find((x) => x?.name === name)!;
            v.assign(tf.sub(v, tf.mul(g, lr)));
          }
        });
        tf.dispose([value, ...Object.values(grads)]);
      };
      step();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) step();
      const after = tf.memory().numTensors;
      ok(
        after === before,
        `${variant.name} H=${H}: ${before} tensors before, ${after} after 20 steps`,
      );
      // The weights moved and stayed finite.
      const wh = await vars.Wh.data();
      ok(wh.every(Number.isFinite), `${variant.name}: Wh finite`);
      tf.dispose([...Object.values(vars).filter((x) => x !== undefined), lr]);
      tf.dispose(t.inputs.concat([t.R, t.Rh, t.Rc]));
    }
  });
});
