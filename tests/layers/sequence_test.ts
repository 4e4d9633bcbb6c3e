import { deepStrictEqual } from "node:assert";
import { tf } from "../../lib/tf.ts";
import type { State } from "../../lib/cells/types.ts";
import { runSequence } from "../../lib/layers/sequence.ts";
import { initialWeights } from "../../lib/cells/init.ts";
import { rnnStep } from "../../lib/cells/rnn.ts";
import { gruStep } from "../../lib/cells/gru.ts";
import { lstmStep } from "../../lib/cells/lstm.ts";
import { assertClose, rejectsWith, specOf, values, VARIANTS } from "../cells/_helpers.ts";

const [T, B, D, H] = [5, 3, 4, 6];

function startState(kind: string): State {
  const h = tf.randomNormal([B, H], 0, 1, "float32", 1) as tf.Tensor2D;
  return kind === "lstm"
    ? { h, c: tf.randomNormal([B, H], 0, 1, "float32", 2) as tf.Tensor2D }
    : { h };
}

for (const variant of VARIANTS) {
  Deno.test(`runSequence() equals the ${variant.label} step function applied step by step`, async () => {
    const spec = specOf(variant, D, H);
    const weights = initialWeights(spec, { init: "xavier", seed: 4 });
    const xs = tf.randomNormal([T, B, D], 0, 1, "float32", 3) as tf.Tensor3D;
    const start = startState(variant.kind);
    const { outputs, state } = runSequence(spec, weights, xs, start);
    let s = start;
    const hs: tf.Tensor2D[] = [];
    for (const x of tf.unstack(xs) as tf.Tensor2D[]) {
      s = variant.kind === "rnn"
        ? rnnStep(weights, x, s, variant.options)
        : variant.kind === "gru"
        ? gruStep(weights, x, s, variant.options)
        : lstmStep(weights, x, s);
      hs.push(s.h);
    }
    assertClose(await values(outputs), await values(tf.stack(hs)), 1e-6, "outputs");
    assertClose(await values(state.h), await values(s.h), 1e-6, "h");
    if (s.c) assertClose(await values(state.c!), await values(s.c), 1e-6, "c");
  });
}

Deno.test("runSequence() projects the whole input with one matmul, then one recurrent matmul per step", async () => {
  // rnn, lstm and reset-after gru: 1 + T matmuls; d2l's gru needs a second one per step for (R ⊙ H) W_hh.
  const expected: Record<string, number> = {
    "rnn tanh": 1 + T,
    "rnn relu": 1 + T,
    "gru": 1 + 2 * T,
    "gru resetAfter": 1 + T,
    "lstm": 1 + T,
  };
  for (const variant of VARIANTS) {
    const spec = specOf(variant, D, H);
    const weights = initialWeights(spec);
    const xs = tf.zeros([T, B, D]) as tf.Tensor3D;
    const start = startState(variant.kind);
    const info = await tf.profile(() => {
      const r = runSequence(spec, weights, xs, start);
      return [r.outputs, ...Object.values(r.state)];
    });
    const matmuls = info.kernels.filter((k) => k.name === "BatchMatMul");
    deepStrictEqual(matmuls.length, expected[variant.label], variant.label);
    deepStrictEqual(matmuls[0].inputShapes, [[T * B, D], [
      D,
      spec.kind === "rnn" ? H : spec.kind === "gru" ? 3 * H : 4 * H,
    ]]);
  }
});

Deno.test("runSequence() names the shapes of a mismatched input, state or weight", () => {
  const spec = { kind: "lstm" as const, inputSize: D, hiddenSize: H };
  const weights = initialWeights(spec);
  const state = startState("lstm");
  const xs = tf.zeros([T, B, D]) as tf.Tensor3D;
  rejectsWith(
    () => runSequence(spec, weights, tf.zeros([T, B, D + 1]) as tf.Tensor3D, state),
    "xs has shape [5, 3, 5]",
    "[T, B, 4]",
  );
  rejectsWith(
    () => runSequence(spec, weights, tf.zeros([0, B, D]) as tf.Tensor3D, state),
    "T >= 1",
  );
  rejectsWith(() => runSequence(spec, weights, xs, { h: state.h }), "state.c is missing", "[3, 6]");
  rejectsWith(
    () => runSequence(spec, weights, xs, { ...state, h: tf.zeros([B + 1, H]) as tf.Tensor2D }),
    "state.h has shape [4, 6]",
    "expected [3, 6]",
  );
  rejectsWith(
    () => runSequence({ ...spec, hiddenSize: H + 1 }, weights, xs, state),
    "Wx has shape [4, 24]",
    "expected [4, 28]",
  );
  rejectsWith(
    () => runSequence({ kind: "rnn", inputSize: D, hiddenSize: H }, weights, xs, { h: state.h }),
    "Wx has shape [4, 24]",
    "expected [4, 6]",
  );
  const gru = { kind: "gru" as const, inputSize: D, hiddenSize: H, resetAfter: true };
  rejectsWith(
    () => runSequence(gru, initialWeights({ ...gru, resetAfter: false }), xs, { h: state.h }),
    "bhh is missing",
    "[6]",
  );
});
