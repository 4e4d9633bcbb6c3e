import { deepStrictEqual, ok, throws } from "node:assert";
import { tf, useBackend } from "../../lib/tf.ts";
import { UsageError } from "../../lib/errors.ts";
import { recurrent } from "../../lib/layers/stack.ts";
import type { CellKind, State } from "../../lib/cells/types.ts";
import { disposeStates } from "../../lib/cells/state.ts";

const KINDS: { cell: CellKind; resetAfter?: boolean; nonlinearity?: "relu" }[] = [
  { cell: "rnn" },
  { cell: "rnn", nonlinearity: "relu" },
  { cell: "gru" },
  { cell: "gru", resetAfter: true },
  { cell: "lstm" },
];

async function maxDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  deepStrictEqual(a.shape, b.shape);
  const [x, y] = [await a.data() as Float32Array, await b.data() as Float32Array];
  return x.reduce((m: number, v: number, i: number) => Math.max(m, Math.abs(v - y[i])), 0);
}

for (const backend of ["cpu", "wasm"] as const) {
  for (const kind of KINDS) {
    const name = `${kind.cell}${kind.resetAfter ? " (reset after)" : ""}${
      kind.nonlinearity ? " relu" : ""
    }`;
    Deno.test(`step() over a 2-layer ${name} stack equals forward() step by step on ${backend}`, async () => {
      await useBackend(backend);
      const layer = recurrent({ ...kind, inputSize: 3, hiddenSize: 5, layers: 2, seed: 7 });
      const xs = tf.randomNormal([6, 4, 3], 0, 1, "float32", 11) as tf.Tensor3D;
      const initialState = layer.cells.map((cell) => ({
        h: tf.randomNormal([4, 5], 0, 0.5, "float32", 3) as tf.Tensor2D,
        ...(cell.spec.kind === "lstm"
          ? { c: tf.randomNormal([4, 5], 0, 0.5, "float32", 4) as tf.Tensor2D }
          : {}),
      }));
      const full = layer.forward(xs, { initialState });
      let states: State[] = initialState;
      let worst = 0;
      for (let t = 0; t < 6; t++) {
        const x = tf.reshape(tf.slice(xs, [t, 0, 0], [1, 4, 3]), [4, 3]) as tf.Tensor2D;
        const { output, state } = layer.step(x, states);
        const expected = tf.reshape(tf.slice(full.outputs, [t, 0, 0], [1, 4, 5]), [4, 5]);
        worst = Math.max(worst, await maxDiff(output, expected));
        if (states !== initialState) disposeStates(states);
        states = state;
        tf.dispose([x, output, expected]);
      }
      for (let k = 0; k < 2; k++) {
        worst = Math.max(worst, await maxDiff(states[k].h, full.state[k].h));
        if (kind.cell === "lstm") {
          worst = Math.max(worst, await maxDiff(states[k].c!, full.state[k].c!));
        }
      }
      ok(worst < 1e-5, `step and forward differ by ${worst}`);
      disposeStates(states);
      disposeStates(initialState);
      disposeStates(full.state);
      tf.dispose([xs, full.outputs]);
      layer.dispose();
    });
  }
}

Deno.test("step() keeps the tensor count flat over a decoding loop", async () => {
  await useBackend("cpu");
  const layer = recurrent({ cell: "lstm", inputSize: 2, hiddenSize: 3, layers: 2 });
  const x = tf.ones([2, 2]) as tf.Tensor2D;
  let states: State[] | undefined;
  const counts: number[] = [];
  for (let t = 0; t < 20; t++) {
    const { output, state } = layer.step(x, states);
    output.dispose();
    disposeStates(states);
    states = state;
    counts.push(tf.memory().numTensors);
  }
  deepStrictEqual(new Set(counts.slice(1)).size, 1);
  disposeStates(states);
  x.dispose();
  layer.dispose();
});

Deno.test("step() refuses a bidirectional stack and a bad shape", async () => {
  await useBackend("cpu");
  const both = recurrent({ cell: "gru", inputSize: 2, hiddenSize: 3, bidirectional: true });
  const x = tf.ones([2, 2]) as tf.Tensor2D;
  throws(
    () => both.step(x),
    (e: Error) => e instanceof UsageError && /bidirectional/.test(e.message),
  );
  const one = recurrent({ cell: "gru", inputSize: 3, hiddenSize: 3 });
  throws(
    () => one.step(x),
    (e: Error) => e instanceof UsageError && /expected \[B, 3\]/.test(e.message),
  );
  tf.dispose(x);
  both.dispose();
  one.dispose();
});
