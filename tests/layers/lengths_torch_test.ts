/**
 * Variable-length batches (`lengths`) against PyTorch: packed-sequence
 * fixtures (scripts/make_packed_fixtures.py) reproduced to 1e-5 on cpu, wasm
 * and webgpu, with lengths as an array, an Int32Array and an int32 tensor.
 */
import { deepStrictEqual, ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import {
  loadTorchFixture,
  type TorchFixture,
  torchInitialState,
  torchStack,
} from "../cells/_torch_fixtures.ts";
import { onBackend } from "../kernels/_helpers.ts";
import { NATIVE } from "../_native.ts";
import { assertNear, assertPaddingZero, stateTensorList, type Worst } from "./_lengths.ts";

const TOL = 1e-5;
/** The largest difference against PyTorch (the report). */
const fixtureWorst: Worst = { value: 0, label: "" };
// ---------------------------------------------------------------- PyTorch fixtures

/** A fixture written by scripts/make_packed_fixtures.py: its batch's lengths too. */
interface Fixture extends TorchFixture {
  lengths: number[];
}

const NAMES = [
  "packed_gru_2layer_bidirectional",
  "packed_lstm_2layer_bidirectional",
  "packed_rnn_tanh",
  "packed_lstm_bidirectional_h0",
];

const load = (name: string) => loadTorchFixture<Fixture>(name);

async function checkFixture(name: string, backend: string): Promise<void> {
  const f = await load(name);
  const stack = torchStack(f);
  stack.loadTorchStateDict(f.stateDict);
  const [T, B] = [f.input.length, f.input[0].length];
  const xs = tf.tensor3d(f.input, [T, B, f.inputSize]);
  const initialState = f.h0 && torchInitialState(f.h0, f.c0);
  // The three accepted forms of lengths give the same numbers.
  const lengthsTensor = tf.tensor1d(f.lengths, "int32");
  for (
    const [form, lengths] of [
      ["number[]", f.lengths],
      ["Int32Array", Int32Array.from(f.lengths)],
      ["int32 tensor", lengthsTensor],
    ] as const
  ) {
    const label = `${name} on ${backend}, lengths as ${form}`;
    const { outputs, state } = stack.forward(xs, { lengths, initialState });
    deepStrictEqual(outputs.shape, [T, B, (f.bidirectional ? 2 : 1) * f.hiddenSize]);
    const out = await outputs.data();
    assertNear(out, f.output.flat(2), TOL, `${label} output`, fixtureWorst);
    assertPaddingZero(out, f.lengths, outputs.shape[2], `${label} output`);
    deepStrictEqual(state.length, f.h_n.length);
    for (const [k, s] of state.entries()) {
      assertNear(await s.h.data(), f.h_n[k].flat(), TOL, `${label} h_n[${k}]`, fixtureWorst);
      if (f.c_n) {
        assertNear(await s.c!.data(), f.c_n[k].flat(), TOL, `${label} c_n[${k}]`, fixtureWorst);
      }
    }
    tf.dispose([outputs, ...stateTensorList(state)]);
  }
  ok(!lengthsTensor.isDisposed, "a lengths tensor is the caller's: not disposed");
  tf.dispose([xs, lengthsTensor, ...stateTensorList(initialState ?? [])]);
  stack.dispose();
}

for (const name of NAMES) {
  for (const backend of ["cpu", ...NATIVE, "wasm", "webgpu"]) {
    Deno.test(`lengths reproduce PyTorch's packed ${name} on ${backend} to 1e-5 (output, h_n, c_n)`, async () => {
      await onBackend(backend, () => checkFixture(name, backend));
    });
  }
}

Deno.test("the packed fixtures are not trivial: unsorted lengths, garbage in the padding, varied outputs", async () => {
  for (const name of NAMES) {
    const f = await load(name);
    deepStrictEqual(f.lengths, [7, 3, 1, 5]);
    const padding = f.input.flatMap((m, t) => m.filter((_, b) => t >= f.lengths[b]).flat());
    ok(padding.length > 0 && padding.every((v) => v !== 0), `${name}: padding is non-zero`);
    ok(Math.max(...padding.map(Math.abs)) > 100, `${name}: padding is large`);
    const out = f.output.flat(2).filter((v) => v !== 0);
    ok(new Set(out.map((v) => v.toFixed(6))).size > out.length / 2, `${name}: outputs vary`);
  }
});

Deno.test("largest differences seen (report)", () => {
  const line = (w: Worst) => `${w.value.toExponential(2)} (${w.label})`;
  console.log(`lengths_torch_test: largest |difference| against PyTorch ${line(fixtureWorst)}`);
});
