import { deepStrictEqual, ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { checkTorchStateDict, torchShapes } from "../../lib/cells/torch.ts";
import { recurrent } from "../../lib/layers/stack.ts";
import {
  loadTorchFixture,
  type TorchFixture,
  torchInitialState,
  torchStack,
} from "./_torch_fixtures.ts";
import { assertClose, rejectsWith, tensor3d, values } from "./_helpers.ts";
import type { Mat } from "../_reference.ts";

/** A fixture written by scripts/make_torch_fixtures.py: it always gives the initial state. */
interface Fixture extends TorchFixture {
  h0: Mat[];
}

const NAMES = [
  "rnn_tanh_2layer",
  "rnn_relu_bidirectional",
  "gru_2layer_bidirectional",
  "lstm_2layer_bidirectional",
  "lstm_2layer_batch1_step1",
];

const load = (name: string) => loadTorchFixture<Fixture>(name);

for (const name of NAMES) {
  Deno.test(`loadTorchStateDict() reproduces PyTorch's ${name} to 1e-5 (output, h_n, c_n)`, async () => {
    const f = await load(name);
    const stack = torchStack(f);
    stack.loadTorchStateDict(f.stateDict);
    const xs = tensor3d(f.input);
    const initialState = torchInitialState(f.h0, f.c0);
    const { outputs, state } = stack.forward(xs, { initialState });
    const directions = f.bidirectional ? 2 : 1;
    deepStrictEqual(outputs.shape, [f.input.length, f.input[0].length, directions * f.hiddenSize]);
    assertClose(await values(outputs), f.output, 1e-5, `${name} output`);
    deepStrictEqual(state.length, f.layers * directions);
    for (const [k, s] of state.entries()) {
      assertClose(await values(s.h), f.h_n[k], 1e-5, `${name} h_n[${k}]`);
      if (f.c_n) assertClose(await values(s.c!), f.c_n[k], 1e-5, `${name} c_n[${k}]`);
    }
    tf.dispose([
      xs,
      outputs,
      ...state.flatMap((s) => Object.values(s)),
      ...initialState.flatMap((s) => Object.values(s)),
    ]);
    stack.dispose();
  });
}

Deno.test("the PyTorch fixtures are not trivial: outputs vary and the relu one has zeros and positives", async () => {
  for (const name of NAMES) {
    const f = await load(name);
    const out = f.output.flat(2);
    ok(new Set(out.map((v) => v.toFixed(6))).size > out.length / 3, `${name}: outputs vary`);
  }
  const relu = (await load("rnn_relu_bidirectional")).output.flat(2);
  ok(relu.some((v) => v === 0) && relu.some((v) => v > 0), "relu output has zeros and positives");
});

const LAYOUT = {
  kind: "lstm" as const,
  inputSize: 3,
  hiddenSize: 5,
  layers: 2,
  bidirectional: true,
};

Deno.test("checkTorchStateDict() names a missing key and its expected shape", async () => {
  const { stateDict } = await load("lstm_2layer_bidirectional");
  const { bias_hh_l1_reverse: _, ...missing } = stateDict;
  rejectsWith(
    () => checkTorchStateDict(LAYOUT, missing),
    'missing key "bias_hh_l1_reverse"',
    "[20]",
  );
});

Deno.test("checkTorchStateDict() names an extra key and its shape", async () => {
  const { stateDict } = await load("lstm_2layer_bidirectional");
  rejectsWith(
    () => checkTorchStateDict(LAYOUT, { ...stateDict, weight_hr_l0: [[1, 2], [3, 4], [5, 6]] }),
    'unexpected key "weight_hr_l0"',
    "[3, 2]",
  );
  // A unidirectional layout does not take the _reverse keys.
  rejectsWith(
    () => checkTorchStateDict({ ...LAYOUT, bidirectional: false }, stateDict),
    'unexpected key "weight_ih_l0_reverse"',
  );
});

Deno.test("checkTorchStateDict() names a mis-shaped key with both shapes", async () => {
  const { stateDict } = await load("lstm_2layer_bidirectional");
  const wrong = {
    ...stateDict,
    weight_ih_l1: (stateDict.weight_ih_l1 as number[][]).map((row) => row.slice(1)),
  };
  rejectsWith(
    () => checkTorchStateDict(LAYOUT, wrong),
    '"weight_ih_l1"',
    "[20, 9]",
    "expected [20, 10]",
  );
  const ragged = { ...stateDict, weight_hh_l0: [[1, 2, 3, 4, 5], [1, 2]] };
  rejectsWith(() => checkTorchStateDict(LAYOUT, ragged), '"weight_hh_l0"', "ragged");
});

Deno.test("loadTorchStateDict() checks everything before changing any weight", async () => {
  const f = await load("lstm_2layer_bidirectional");
  const stack = torchStack(f);
  const before = await values(stack.trainableVariables[0]);
  const { bias_ih_l1: _, ...missing } = f.stateDict;
  rejectsWith(() => stack.loadTorchStateDict(missing), 'missing key "bias_ih_l1"');
  deepStrictEqual(await values(stack.trainableVariables[0]), before);
  stack.dispose();
});

Deno.test("loadTorchStateDict() refuses PyTorch's GRU into a gru with resetAfter: false", async () => {
  const f = await load("gru_2layer_bidirectional");
  const stack = recurrent({
    cell: "gru",
    inputSize: 3,
    hiddenSize: 4,
    layers: 2,
    bidirectional: true,
  });
  rejectsWith(() => stack.loadTorchStateDict(f.stateDict), "resetAfter: true");
  stack.dispose();
});

Deno.test("torchShapes() lists PyTorch's keys layer-major, forward before reverse", () => {
  const keys = [
    ...torchShapes({ kind: "gru", inputSize: 3, hiddenSize: 4, layers: 2, bidirectional: true })
      .keys(),
  ];
  deepStrictEqual(keys.slice(0, 5), [
    "weight_ih_l0",
    "weight_hh_l0",
    "bias_ih_l0",
    "bias_hh_l0",
    "weight_ih_l0_reverse",
  ]);
  deepStrictEqual(keys.length, 16);
});
