import { deepStrictEqual, ok, throws } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { UsageError } from "../../lib/errors.ts";
import { rnnGates, rnnStep, rnnWeightsFromNamed, rnnWeightsToNamed } from "../../lib/cells/rnn.ts";
import { rnnCell } from "../../lib/layers/cell.ts";
import { registerGateTests, registerGradientCheck, registerSequenceTests } from "./_checks.ts";
import { assertClose, namedTensors, values, VARIANTS } from "./_helpers.ts";
import { randomNamed, rng } from "../_reference.ts";

for (const variant of VARIANTS.filter((v) => v.kind === "rnn")) {
  const options = { nonlinearity: variant.options.nonlinearity };
  registerGateTests(variant, (w, x, s) => ({ ...rnnGates(w, x, s, options) }), ["h"]);
  registerSequenceTests(variant);
  registerGradientCheck(variant);
}

Deno.test("rnnStep() returns the gates' h and frees everything else", () => {
  const named = namedTensors(randomNamed("rnn", 3, 4, rng(1)));
  const fused = rnnWeightsFromNamed(named, { inputSize: 3, hiddenSize: 4 });
  const x = tf.randomNormal([2, 3]) as tf.Tensor2D, h = tf.randomNormal([2, 4]) as tf.Tensor2D;
  const before = tf.memory().numTensors;
  const state = rnnStep(fused, x, { h }, { nonlinearity: "relu" });
  deepStrictEqual(tf.memory().numTensors, before + 1);
  const gates = tf.tidy(() => rnnGates(fused, x, { h }, { nonlinearity: "relu" }).h);
  deepStrictEqual(state.h.dataSync(), gates.dataSync());
  ok(Object.keys(state).length === 1);
  tf.dispose([state.h, gates, x, h, ...Object.values(fused), ...Object.values(named)]);
});

Deno.test("rnn weights convert between fused storage and W_xh W_hh b_h", async () => {
  const named = namedTensors(randomNamed("rnn", 3, 4, rng(2)));
  const fused = rnnWeightsFromNamed(named, { inputSize: 3, hiddenSize: 4 });
  deepStrictEqual([fused.Wx.shape, fused.Wh.shape, fused.b.shape], [[3, 4], [4, 4], [4]]);
  const back = rnnWeightsToNamed(fused);
  deepStrictEqual(Object.keys(back), ["W_xh", "W_hh", "b_h"]);
  for (const name of Object.keys(named)) {
    assertClose(await values(back[name]), await values(named[name]), 0, name);
  }
  tf.dispose([...Object.values(named), ...Object.values(fused), ...Object.values(back)]);
});

Deno.test("rnnCell() defaults to tanh and d2l's N(0, 0.01) weights, and rejects a bad nonlinearity", async () => {
  const cell = rnnCell({ inputSize: 30, hiddenSize: 40 });
  deepStrictEqual(cell.spec.nonlinearity, "tanh");
  const w = await values(cell.weights.Wx);
  const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  ok(std > 0.009 && std < 0.011, `std ${std}`);
  cell.dispose();
  throws(
    () => rnnCell({ inputSize: 3, hiddenSize: 4, nonlinearity: "sigmoid" as "tanh" }),
    (e: Error) => e instanceof UsageError && e.message.includes('"sigmoid"'),
  );
});
