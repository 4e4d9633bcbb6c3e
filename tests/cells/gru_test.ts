import { deepStrictEqual, throws } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { UsageError } from "../../lib/errors.ts";
import { gruGates, gruStep, gruWeightsFromNamed, gruWeightsToNamed } from "../../lib/cells/gru.ts";
import { gruCell } from "../../lib/layers/cell.ts";
import { registerGateTests, registerGradientCheck, registerSequenceTests } from "./_checks.ts";
import { assertClose, namedTensors, values, VARIANTS } from "./_helpers.ts";
import { randomNamed, rng } from "../_reference.ts";

for (const variant of VARIANTS.filter((v) => v.kind === "gru")) {
  const options = { resetAfter: variant.options.resetAfter };
  registerGateTests(variant, (w, x, s) => ({ ...gruGates(w, x, s, options) }), [
    "z",
    "r",
    "hTilde",
    "h",
  ]);
  registerSequenceTests(variant);
  registerGradientCheck(variant);
}

Deno.test("gru fused storage holds the blocks z, r, h in that order", async () => {
  const named = namedTensors(randomNamed("gru", 2, 3, rng(3), { resetAfter: true }));
  const fused = gruWeightsFromNamed(named, { inputSize: 2, hiddenSize: 3, resetAfter: true });
  const Wx = await fused.Wx.array(), b = await fused.b.array();
  for (const [g, block] of ["z", "r", "h"].entries()) {
    const column = Wx.map((row) => row.slice(3 * g, 3 * g + 3));
    assertClose(column.flat(), await named[`W_x${block}`].array(), 0, `W_x${block}`);
    assertClose(b.slice(3 * g, 3 * g + 3), await named[`b_${block}`].array(), 0, `b_${block}`);
  }
  assertClose(await values(fused.bhh!), await values(named.b_hh), 0, "b_hh");
  const back = gruWeightsToNamed(fused);
  deepStrictEqual(Object.keys(back), [
    "W_xz",
    "W_hz",
    "b_z",
    "W_xr",
    "W_hr",
    "b_r",
    "W_xh",
    "W_hh",
    "b_h",
    "b_hh",
  ]);
  tf.dispose([...Object.values(named), ...Object.values(fused), ...Object.values(back)]);
});

Deno.test("gruStep() with resetAfter needs the extra bias b_hh", () => {
  const named = namedTensors(randomNamed("gru", 2, 3, rng(4)));
  const fused = gruWeightsFromNamed(named, { inputSize: 2, hiddenSize: 3 });
  const x = tf.zeros([1, 2]) as tf.Tensor2D, h = tf.zeros([1, 3]) as tf.Tensor2D;
  throws(
    () => gruStep(fused, x, { h }, { resetAfter: true }),
    (e: Error) => e instanceof UsageError && e.message.includes("bhh"),
  );
  tf.dispose([x, h, ...Object.values(fused), ...Object.values(named)]);
});

Deno.test("gruCell() setWeights() wants b_hh exactly when resetAfter", () => {
  const before = gruCell({ inputSize: 2, hiddenSize: 3 });
  const after = gruCell({ inputSize: 2, hiddenSize: 3, resetAfter: true });
  const withBhh = namedTensors(randomNamed("gru", 2, 3, rng(5), { resetAfter: true }));
  throws(
    () => before.setWeights(withBhh),
    (e: Error) => e instanceof UsageError && e.message.includes('unexpected name "b_hh"'),
  );
  const { b_hh, ...withoutBhh } = withBhh;
  throws(
    () => after.setWeights(withoutBhh),
    (e: Error) =>
      e instanceof UsageError && e.message.includes("b_hh is missing") && e.message.includes("[3]"),
  );
  tf.dispose([b_hh, ...Object.values(withoutBhh)]);
  before.dispose();
  after.dispose();
});
