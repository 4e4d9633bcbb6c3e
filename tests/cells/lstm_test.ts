import { deepStrictEqual, throws } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { UsageError } from "../../lib/errors.ts";
import {
  lstmGates,
  lstmStep,
  lstmWeightsFromNamed,
  lstmWeightsToNamed,
} from "../../lib/cells/lstm.ts";
import { lstmCell } from "../../lib/layers/cell.ts";
import { registerGateTests, registerGradientCheck, registerSequenceTests } from "./_checks.ts";
import { assertClose, namedTensors, values, VARIANTS } from "./_helpers.ts";
import { randomNamed, rng } from "../_reference.ts";

for (const variant of VARIANTS.filter((v) => v.kind === "lstm")) {
  registerGateTests(variant, (w, x, s) => ({ ...lstmGates(w, x, s) }), [
    "i",
    "f",
    "o",
    "cTilde",
    "c",
    "h",
  ]);
  registerSequenceTests(variant);
  registerGradientCheck(variant);
}

Deno.test("lstm fused storage holds the blocks i, f, o, c in that order", async () => {
  const named = namedTensors(randomNamed("lstm", 2, 3, rng(6)));
  const fused = lstmWeightsFromNamed(named, { inputSize: 2, hiddenSize: 3 });
  const Wh = await fused.Wh.array();
  for (const [g, block] of ["i", "f", "o", "c"].entries()) {
    const column = Wh.map((row) => row.slice(3 * g, 3 * g + 3));
    assertClose(column.flat(), await named[`W_h${block}`].array(), 0, `W_h${block}`);
  }
  const back = lstmWeightsToNamed(fused);
  deepStrictEqual(Object.keys(back), [
    "W_xi",
    "W_hi",
    "b_i",
    "W_xf",
    "W_hf",
    "b_f",
    "W_xo",
    "W_ho",
    "b_o",
    "W_xc",
    "W_hc",
    "b_c",
  ]);
  tf.dispose([...Object.values(named), ...Object.values(fused), ...Object.values(back)]);
});

Deno.test("lstmStep() returns { h, c } and needs c in the state", () => {
  const named = namedTensors(randomNamed("lstm", 2, 3, rng(7)));
  const fused = lstmWeightsFromNamed(named, { inputSize: 2, hiddenSize: 3 });
  const x = tf.ones([1, 2]) as tf.Tensor2D, h = tf.ones([1, 3]) as tf.Tensor2D;
  const before = tf.memory().numTensors;
  const state = lstmStep(fused, x, { h, c: h });
  deepStrictEqual(Object.keys(state), ["h", "c"]);
  deepStrictEqual(tf.memory().numTensors, before + 2);
  throws(
    () => lstmStep(fused, x, { h }),
    (e: Error) => e instanceof UsageError && e.message.includes("state.c"),
  );
  tf.dispose([x, h, state.h, state.c!, ...Object.values(fused), ...Object.values(named)]);
});

Deno.test("lstmCell() puts forgetBias into b_f only", async () => {
  const cell = lstmCell({ inputSize: 2, hiddenSize: 3, forgetBias: 1 });
  const named = cell.getWeights();
  deepStrictEqual(await values(named.b_f), [1, 1, 1]);
  for (const name of ["b_i", "b_o", "b_c"]) deepStrictEqual(await values(named[name]), [0, 0, 0]);
  tf.dispose(Object.values(named));
  cell.dispose();
});
