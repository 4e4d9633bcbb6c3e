/**
 * Variable-length batches (`lengths`) through the cell objects and
 * runSequence directly (fused and plain paths), on cpu and wasm, every cell
 * kind: each sequence of a padded batch equals that sequence run alone, from a
 * given state and from zeros; and useFusedSequences(false) gives the fused
 * path's outputs, state and gradients.
 */
import { tf } from "../../lib/tf.ts";
import type { CellSpec, State } from "../../lib/cells/types.ts";
import { runSequence, useFusedSequences } from "../../lib/layers/sequence.ts";
import { initialWeights } from "../../lib/cells/init.ts";
import { disposeFused } from "../../lib/layers/cell.ts";
import { cellOf } from "../cells/_checks.ts";
import { onBackend, VARIANTS } from "../kernels/_helpers.ts";
import {
  assertNear,
  assertPaddingZero,
  CASES,
  CONFIGS,
  D,
  H,
  paddedBatch,
  PROPERTY_BACKENDS,
  randomStates,
  row,
  sliceSequence,
  specOf,
  stackOf,
  stateRows,
  stateTensorList,
  TOL,
  type Worst,
  worst,
} from "./_lengths.ts";

/** The largest difference between fused and plain gradients (the report). */
const gradientWorst: Worst = { value: 0, label: "" };

// ---------------------------------------------------------------- cell objects and runSequence

type SequenceRunner = (xs: tf.Tensor3D, state: State | undefined, lengths?: number[]) => {
  outputs: tf.Tensor3D;
  state: State;
};

/** One cell (no stack) with lengths against each sequence alone, from a given state and from zeros. */
async function checkCellRunner(run: SequenceRunner, lstm: boolean, seed: number, label: string) {
  const { T, lengths } = CASES[0];
  const B = lengths.length;
  const xs = tf.tensor3d(paddedBatch(seed, T, D, lengths, 1e3), [T, B, D]);
  for (const given of [true, false]) {
    const start = given ? randomStates(seed + 1, 1, B, H, lstm)[0] : undefined;
    const r = run(xs, start, lengths);
    const out = await r.outputs.data();
    assertPaddingZero(out, lengths, H, `${label} outputs`);
    const final = await Promise.all(stateTensorList([r.state]).map((t) => t.data()));
    for (const [b, n] of lengths.entries()) {
      const alone = tf.tensor3d(sliceSequence(await xs.data(), B, D, b, n), [n, 1, D]);
      const s = start ? stateRows([start], b)[0] : undefined;
      const one = run(alone, s);
      const tag = `${label} ${given ? "given" : "zero"} state, sequence ${b}`;
      assertNear(sliceSequence(out, B, H, b, n), await one.outputs.data(), TOL, `${tag} outputs`);
      for (const [k, t] of stateTensorList([one.state]).entries()) {
        assertNear(row(final[k], H, b), await t.data(), TOL, `${tag} state ${k}`);
      }
      tf.dispose([
        alone,
        one.outputs,
        ...stateTensorList([one.state]),
        ...(s ? stateTensorList([s]) : []),
      ]);
    }
    tf.dispose([
      r.outputs,
      ...stateTensorList([r.state]),
      ...(start ? stateTensorList([start]) : []),
    ]);
  }
  tf.dispose(xs);
}

for (const backend of PROPERTY_BACKENDS) {
  Deno.test(`cell objects and runSequence (fused and plain) with lengths = each sequence alone, on ${backend}`, async () => {
    await onBackend(backend, async () => {
      for (const [v, variant] of VARIANTS.entries()) {
        const spec = specOf(variant);
        const lstm = spec.kind === "lstm";
        const cell = cellOf(spec);
        cell.setWeights(randomNamedWeights(spec, 40 + v));
        await checkCellRunner(
          (xs, s, lengths) => cell.forward(xs, s, lengths ? { lengths } : undefined),
          lstm,
          500 + v,
          `${variant.name} cell object on ${backend}`,
        );
        const weights = initialWeights(spec, { init: "xavier", seed: 60 + v });
        const zero = (B: number): State => {
          const h = tf.zeros([B, H]) as tf.Tensor2D;
          return lstm ? { h, c: tf.zeros([B, H]) as tf.Tensor2D } : { h };
        };
        for (const fused of [true, false]) {
          const previous = useFusedSequences(fused);
          try {
            await checkCellRunner(
              (xs, s, lengths) => {
                const state = s ?? zero(xs.shape[1]);
                const r = runSequence(spec, weights, xs, state, lengths ? { lengths } : undefined);
                if (!s) tf.dispose(stateTensorList([state]));
                return r;
              },
              lstm,
              600 + v,
              `${variant.name} runSequence (${fused ? "fused" : "plain"}) on ${backend}`,
            );
          } finally {
            useFusedSequences(previous);
          }
        }
        disposeFused(weights);
        cell.dispose();
      }
    });
  });
}

/** Random asymmetric named weights for a cell (N(0, 0.5²)), via a fresh cell's names and shapes. */
function randomNamedWeights(spec: CellSpec, seed: number): Record<string, tf.Tensor> {
  const cell = cellOf(spec);
  const named = cell.getWeights();
  cell.dispose();
  let k = 0;
  return Object.fromEntries(
    Object.entries(named).map(([name, t]) => {
      const r = tf.randomNormal(t.shape, 0, 0.5, "float32", seed + k++);
      t.dispose();
      return [name, r];
    }),
  );
}

Deno.test("useFusedSequences(false) gives the same outputs, state and gradients as the fused path with lengths", async () => {
  for (const backend of PROPERTY_BACKENDS) {
    await onBackend(backend, async () => {
      for (const [v, variant] of VARIANTS.entries()) {
        const stack = stackOf(variant, CONFIGS[2], 70 + v);
        const { T, lengths } = CASES[0];
        const B = lengths.length;
        const xs = tf.tensor3d(paddedBatch(80 + v, T, D, lengths, 1e3), [T, B, D]);
        const R = tf.randomNormal([T, B, stack.outputSize], 0, 1, "float32", 90 + v);
        const loss = (x: tf.Tensor3D) => {
          const { outputs, state } = stack.forward(x, { lengths });
          let l = tf.sum(tf.mul(outputs, R));
          for (const s of stateTensorList(state)) l = tf.add(l, tf.sum(tf.mul(s, s)));
          return l as tf.Scalar;
        };
        const results: { out: Float32Array; grads: Float32Array[] }[] = [];
        for (const fused of [true, false]) {
          const previous = useFusedSequences(fused);
          try {
            const out = tf.tidy(() => stack.forward(xs, { lengths }).outputs);
            const { value, grads } = tf.variableGrads(() => loss(xs), stack.trainableVariables);
            const gx = tf.grad((x: tf.Tensor) => loss(x as tf.Tensor3D))(xs);
            const gradData = await Promise.all(
              [...stack.trainableVariables.map((w) => grads[w.name]), gx].map(async (g) =>
                (await g.data()) as Float32Array
              ),
            );
            results.push({ out: (await out.data()) as Float32Array, grads: gradData });
            tf.dispose([out, value, gx, ...Object.values(grads)]);
          } finally {
            useFusedSequences(previous);
          }
        }
        const label = `${variant.name} on ${backend}`;
        assertNear(results[1].out, results[0].out, TOL, `${label} outputs plain vs fused`);
        results[0].grads.forEach((g, k) => {
          const scale = Math.max(1, ...Array.from(g, Math.abs));
          assertNear(
            results[1].grads[k],
            g,
            1e-4 * scale,
            `${label} gradient ${k} plain vs fused`,
            gradientWorst,
          );
        });
        tf.dispose([xs, R]);
        stack.dispose();
      }
    });
  }
});

Deno.test("largest differences seen (report)", () => {
  const line = (w: Worst) => `${w.value.toExponential(2)} (${w.label})`;
  console.log(`lengths_cell_test: largest |difference| in the forward checks ${line(worst)}`);
  console.log(
    `lengths_cell_test: largest |difference| plain vs fused gradients ${line(gradientWorst)}`,
  );
});
