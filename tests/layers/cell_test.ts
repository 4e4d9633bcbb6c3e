import { deepStrictEqual } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { gruCell } from "../../lib/layers/cell.ts";
import { cellOf } from "../cells/_checks.ts";
import { rejectsWith, specOf, values, VARIANTS } from "../cells/_helpers.ts";

const [T, B, D, H] = [4, 2, 3, 5];

for (const variant of VARIANTS) {
  Deno.test(`${variant.label} cell: forward() and step() return only their results, and leak nothing`, () => {
    const cell = cellOf(specOf(variant, D, H));
    const xs = tf.randomNormal([T, B, D]) as tf.Tensor3D;
    const stateSize = variant.kind === "lstm" ? 2 : 1;
    const before = tf.memory().numTensors;
    const run = cell.forward(xs);
    deepStrictEqual(tf.memory().numTensors, before + 1 + stateSize, "outputs and the final state");
    const x0 = tf.tidy(() => tf.unstack(xs)[0]) as tf.Tensor2D;
    const next = cell.step(x0, run.state);
    deepStrictEqual(
      tf.memory().numTensors,
      before + 2 + 2 * stateSize,
      "plus x and the next state",
    );
    tf.dispose([run.outputs, ...Object.values(run.state), ...Object.values(next)]);
    deepStrictEqual(tf.memory().numTensors, before + 1, "only x is left");
    tf.tidy(() => {
      cell.forward(xs);
      tf.variableGrads(() => tf.sum(cell.forward(xs).outputs) as tf.Scalar);
    });
    deepStrictEqual(
      tf.memory().numTensors,
      before + 1,
      "nothing survives a tidy, gradients included",
    );
    const named = cell.getWeights();
    cell.setWeights(named);
    tf.dispose(Object.values(named));
    deepStrictEqual(
      tf.memory().numTensors,
      before + 1,
      "getWeights/setWeights leave nothing behind",
    );
    tf.dispose([x0, xs]);
    cell.dispose();
    deepStrictEqual(
      tf.memory().numTensors,
      before - 1 - Object.values(cell.weights).length,
      "dispose() frees the weights",
    );
  });
}

Deno.test("a cell's setWeights() names a missing or extra weight, or a wrong shape, and changes nothing", async () => {
  const cell = gruCell({ inputSize: D, hiddenSize: H });
  const named = cell.getWeights();
  const before = await values(cell.weights.Wx);
  const { W_hr: _, ...missing } = named;
  rejectsWith(() => cell.setWeights(missing), "W_hr is missing", "[5, 5]");
  rejectsWith(
    () => cell.setWeights({ ...named, W_xq: named.W_xz }),
    'unexpected name "W_xq"',
    "W_xz, W_hz, b_z",
  );
  const changed = { ...named, W_xz: tf.ones([D, H]), b_h: tf.zeros([H + 1]) };
  rejectsWith(() => cell.setWeights(changed), "b_h has shape [6]", "expected [5]");
  rejectsWith(
    () => cell.setWeights({ ...named, W_xh: [[1]] as unknown as tf.Tensor }),
    "W_xh is not a tensor",
  );
  deepStrictEqual(await values(cell.weights.Wx), before, "W_xz was not assigned");
  cell.dispose();
});

Deno.test("a cell's forward() and step() name the shapes of a mismatched input or state", () => {
  const cell = cellOf(specOf(VARIANTS[4], D, H)); // lstm
  rejectsWith(
    () => cell.forward(tf.zeros([T, B, D + 2]) as tf.Tensor3D),
    "xs has shape [4, 2, 5]",
    "[T, B, 3]",
  );
  rejectsWith(
    () => cell.forward(tf.zeros([B, D]) as unknown as tf.Tensor3D),
    "xs has shape [2, 3]",
  );
  rejectsWith(
    () => cell.forward(tf.zeros([T, B, D]) as tf.Tensor3D, { h: tf.zeros([B, H]) as tf.Tensor2D }),
    "state.c is missing",
  );
  rejectsWith(
    () => cell.step(tf.zeros([B, D + 1]) as tf.Tensor2D, { h: tf.zeros([B, H]) as tf.Tensor2D }),
    "x has shape [2, 4]",
    "[B, 3]",
  );
  const h = tf.zeros([B + 1, H]) as tf.Tensor2D;
  rejectsWith(
    () => cell.step(tf.zeros([B, D]) as tf.Tensor2D, { h, c: h }),
    "state.h has shape [3, 5]",
    "expected [2, 5]",
  );
  cell.dispose();
  const rnn = cellOf(specOf(VARIANTS[0], D, H));
  rejectsWith(
    () =>
      rnn.forward(tf.zeros([T, B, D]) as tf.Tensor3D, {
        h: tf.zeros([B, H]) as tf.Tensor2D,
        c: tf.zeros([B, H]) as tf.Tensor2D,
      }),
    "state.c is given",
  );
  rnn.dispose();
});

Deno.test("cell factories reject bad sizes and unknown kinds with UsageError", () => {
  rejectsWith(() => gruCell({ inputSize: 0, hiddenSize: 3 }), "inputSize is 0");
  rejectsWith(() => gruCell({ inputSize: 2, hiddenSize: -1 }), "hiddenSize is -1");
  rejectsWith(() => gruCell({ inputSize: 2, hiddenSize: 3, init: "zeros" as "normal" }), '"zeros"');
});
