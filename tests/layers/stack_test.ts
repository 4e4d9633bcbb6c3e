import { deepStrictEqual, notDeepStrictEqual, ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import type { CellKind, State } from "../../lib/cells/types.ts";
import type { RecurrentCell } from "../../lib/layers/cell.ts";
import { type Recurrent, recurrent } from "../../lib/layers/stack.ts";
import { torchSuffix } from "../../lib/cells/torch.ts";
import { cellOf } from "../cells/_checks.ts";
import { assertClose, rejectsWith, values } from "../cells/_helpers.ts";

const [T, B, D, H] = [4, 2, 3, 5];

/** A stack with non-trivial weights (Glorot), so outputs differ visibly between paths. */
function stackOf(cell: CellKind, extra: Partial<Parameters<typeof recurrent>[0]> = {}): Recurrent {
  return recurrent({
    cell,
    inputSize: D,
    hiddenSize: H,
    layers: 2,
    bidirectional: true,
    init: "xavier",
    seed: 3,
    ...extra,
  });
}

/** A fresh cell with the weights of the stack's cell `k` (layer k / 2, reverse when k is odd). */
function copyOf(stack: Recurrent, k: number): RecurrentCell {
  const cell = cellOf(stack.cells[k].spec);
  const named = stack.getWeights()[torchSuffix(Math.floor(k / 2), k % 2 === 1)];
  cell.setWeights(named);
  tf.dispose(Object.values(named));
  return cell;
}

/** Runs a cell one step at a time, in the given time order, with its own step(). */
function byHand(
  cell: RecurrentCell,
  xs: tf.Tensor3D,
  state: State,
  order: number[],
): { outputs: tf.Tensor3D; state: State } {
  return tf.tidy(() => {
    const steps = tf.unstack(xs) as tf.Tensor2D[];
    const hs: tf.Tensor2D[] = new Array(steps.length);
    let s = state;
    for (const t of order) {
      s = cell.step(steps[t], s);
      hs[t] = s.h;
    }
    return { outputs: tf.stack(hs) as tf.Tensor3D, state: s } as never;
  });
}

function zeros(kind: CellKind): State {
  return kind === "lstm" ? { h: tf.zeros([B, H]), c: tf.zeros([B, H]) } : { h: tf.zeros([B, H]) };
}

for (const kind of ["rnn", "gru", "lstm"] as const) {
  Deno.test(`${kind} stack: each layer and direction equals running its cell by hand, step by step`, async () => {
    const stack = stackOf(kind, kind === "gru" ? { resetAfter: true } : {});
    const xs = tf.randomNormal([T, B, D], 0, 1, "float32", 11) as tf.Tensor3D;
    const { outputs, state } = stack.forward(xs);
    const forwardOrder = [...Array(T).keys()], backwardOrder = [...forwardOrder].reverse();
    // Layer 0 reads xs, the reverse direction from x[T-1] down to x[0].
    const l0f = byHand(copyOf(stack, 0), xs, zeros(kind), forwardOrder);
    const l0r = byHand(copyOf(stack, 1), xs, zeros(kind), backwardOrder);
    // Layer 1 reads both directions of layer 0, concatenated on the last axis.
    const l1in = tf.concat([l0f.outputs, l0r.outputs], 2) as tf.Tensor3D;
    const l1f = byHand(copyOf(stack, 2), l1in, zeros(kind), forwardOrder);
    const l1r = byHand(copyOf(stack, 3), l1in, zeros(kind), backwardOrder);
    deepStrictEqual(outputs.shape, [T, B, 2 * H]);
    assertClose(
      await values(outputs),
      await values(tf.concat([l1f.outputs, l1r.outputs], 2)),
      1e-6,
      "outputs",
    );
    const finals = [l0f.state, l0r.state, l1f.state, l1r.state];
    for (const [k, s] of state.entries()) {
      assertClose(await values(s.h), await values(finals[k].h), 1e-6, `state[${k}].h`);
      if (kind === "lstm") {
        assertClose(await values(s.c!), await values(finals[k].c!), 1e-6, `state[${k}].c`);
      }
    }
    // The reverse direction's final state is its output at t = 0, the forward one's at t = T-1.
    const last = await outputs.array();
    assertClose(
      await values(state[3].h),
      last[0].map((row) => row.slice(H)),
      1e-7,
      "reverse final = output[0]",
    );
    assertClose(
      await values(state[2].h),
      last[T - 1].map((row) => row.slice(0, H)),
      1e-7,
      "forward final = output[T-1]",
    );
    stack.dispose();
  });
}

Deno.test("the reverse direction really reads the sequence backwards", async () => {
  const stack = recurrent({
    cell: "gru",
    inputSize: D,
    hiddenSize: H,
    bidirectional: true,
    init: "xavier",
  });
  const xs = tf.randomNormal([T, B, D], 0, 1, "float32", 5) as tf.Tensor3D;
  const base = await stack.forward(xs).outputs.array();
  const nudged = async (t: number) => {
    const delta = tf.oneHot(tf.tensor1d([t], "int32"), T).reshape([T, 1, 1]); // 1 at step t
    return await stack.forward(tf.add(xs, delta) as tf.Tensor3D).outputs.array();
  };
  const changed = (a: number[][][], t: number, half: 0 | 1) =>
    a[t].some((row, b) =>
      row.slice(half * H, (half + 1) * H).some((v, j) => v !== base[t][b][half * H + j])
    );
  // Changing the last step: the forward half moves only at t = T-1, the reverse half everywhere.
  const last = await nudged(T - 1);
  for (let t = 0; t < T; t++) {
    deepStrictEqual(changed(last, t, 0), t === T - 1, `forward half at t=${t}`);
    ok(changed(last, t, 1), `reverse half at t=${t}`);
  }
  // Changing the first step: the reverse half moves only at t = 0.
  const first = await nudged(0);
  for (let t = 0; t < T; t++) {
    ok(changed(first, t, 0), `forward half at t=${t}`);
    deepStrictEqual(changed(first, t, 1), t === 0, `reverse half at t=${t}`);
  }
  stack.dispose();
});

Deno.test("forward() starts from initialState in PyTorch's h_n order", async () => {
  const stack = stackOf("lstm");
  const xs = tf.randomNormal([T, B, D], 0, 1, "float32", 6) as tf.Tensor3D;
  const initialState = [0, 1, 2, 3].map((k) => ({
    h: tf.fill([B, H], 0.1 * (k + 1)) as tf.Tensor2D,
    c: tf.fill([B, H], -0.2 * (k + 1)) as tf.Tensor2D,
  }));
  const { outputs, state } = stack.forward(xs, { initialState });
  const l0r = byHand(copyOf(stack, 1), xs, initialState[1], [3, 2, 1, 0]);
  assertClose(
    await values(state[1].h),
    await values(l0r.state.h),
    1e-6,
    "l0_reverse from initialState[1]",
  );
  const zero = stack.forward(xs);
  notDeepStrictEqual(await values(outputs), await values(zero.outputs));
  stack.dispose();
});

Deno.test("dropout acts between layers only, when training, and a seed fixes it", async () => {
  const stack = recurrent({
    cell: "rnn",
    inputSize: D,
    hiddenSize: H,
    layers: 2,
    dropout: 0.5,
    init: "xavier",
  });
  const xs = tf.randomNormal([T, B, D], 0, 1, "float32", 7) as tf.Tensor3D;
  const plain = await values(stack.forward(xs).outputs);
  deepStrictEqual(await values(stack.forward(xs, { training: false, seed: 1 }).outputs), plain);
  const trained = await values(stack.forward(xs, { training: true, seed: 42 }).outputs);
  notDeepStrictEqual(trained, plain);
  deepStrictEqual(await values(stack.forward(xs, { training: true, seed: 42 }).outputs), trained);
  // By hand: layer 0, the mask of seed 42 + layer 0, layer 1; nothing on the input or the output.
  const l0 = copyOf(stack, 0).forward(xs).outputs;
  const dropped = tf.dropout(l0, 0.5, undefined, 42) as tf.Tensor3D;
  ok((await values(dropped)).some((v) => v === 0), "the mask drops something");
  const l1 = stack.cells[1];
  const expected = l1.forward(dropped).outputs;
  assertClose(trained, await values(expected), 1e-6, "dropout between layers");
  // Without a seed, two training calls draw different masks (from the stack's own generator).
  notDeepStrictEqual(
    await values(stack.forward(xs, { training: true }).outputs),
    await values(stack.forward(xs, { training: true }).outputs),
  );
  stack.dispose();
});

Deno.test("trainableVariables are in a stable order and forward() works inside tf.variableGrads", async () => {
  const stack = stackOf("gru", { resetAfter: true });
  const vars = stack.trainableVariables;
  deepStrictEqual(vars.length, 4 * 4); // 4 cells x (Wx, Wh, b, bhh)
  deepStrictEqual(
    vars.map((v) => v.shape),
    stack.cells.flatMap((c) => [c.weights.Wx.shape, c.weights.Wh.shape, [3 * H], [H]]),
  );
  ok(vars[0] === stack.cells[0].weights.Wx && vars[7] === stack.cells[1].weights.bhh);
  const xs = tf.randomNormal([T, B, D], 0, 1, "float32", 8) as tf.Tensor3D;
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.square(stack.forward(xs).outputs)) as tf.Scalar,
    vars,
  );
  ok((await value.data())[0] > 0);
  for (const v of vars) {
    const g = await values(grads[v.name]);
    ok(g.some((x) => x !== 0), `gradient of ${v.name} is not all zero`);
  }
  stack.dispose();
});

Deno.test("getWeights() and setWeights() round-trip per layer and direction", async () => {
  const a = stackOf("lstm"), b = stackOf("lstm", { seed: 99 });
  const xs = tf.randomNormal([T, B, D], 0, 1, "float32", 9) as tf.Tensor3D;
  notDeepStrictEqual(await values(a.forward(xs).outputs), await values(b.forward(xs).outputs));
  const weights = a.getWeights();
  deepStrictEqual(Object.keys(weights), ["l0", "l0_reverse", "l1", "l1_reverse"]);
  deepStrictEqual(weights.l1.W_xi.shape, [2 * H, H]);
  b.setWeights(weights);
  deepStrictEqual(await values(b.forward(xs).outputs), await values(a.forward(xs).outputs));
  a.dispose();
  b.dispose();
});

Deno.test("recurrent() rejects an unknown cell kind, bad sizes and flags on the wrong kind", () => {
  rejectsWith(
    () => recurrent({ cell: "transformer" as CellKind, inputSize: 3, hiddenSize: 4 }),
    '"transformer"',
    "rnn, gru, lstm",
  );
  rejectsWith(() => recurrent({ cell: "gru", inputSize: 0, hiddenSize: 4 }), "inputSize is 0");
  rejectsWith(() => recurrent({ cell: "gru", inputSize: 3, hiddenSize: 2.5 }), "hiddenSize is 2.5");
  rejectsWith(
    () => recurrent({ cell: "gru", inputSize: 3, hiddenSize: 4, layers: 0 }),
    "layers is 0",
  );
  rejectsWith(
    () => recurrent({ cell: "gru", inputSize: 3, hiddenSize: 4, layers: 2, dropout: 1 }),
    "dropout is 1",
  );
  rejectsWith(
    () => recurrent({ cell: "gru", inputSize: 3, hiddenSize: 4, dropout: 0.2 }),
    "layers >= 2",
  );
  rejectsWith(
    () => recurrent({ cell: "lstm", inputSize: 3, hiddenSize: 4, nonlinearity: "relu" }),
    '"relu"',
    "lstm",
  );
  rejectsWith(
    () => recurrent({ cell: "rnn", inputSize: 3, hiddenSize: 4, resetAfter: true }),
    "resetAfter",
  );
});

Deno.test("forward() names the shapes of a mismatched input or initial state", () => {
  const stack = stackOf("lstm");
  rejectsWith(
    () => stack.forward(tf.zeros([T, B, D + 1]) as tf.Tensor3D),
    "[4, 2, 4]",
    `[T, B, ${D}]`,
  );
  rejectsWith(() => stack.forward(tf.zeros([B, D]) as unknown as tf.Tensor3D), "[2, 3]");
  const xs = tf.zeros([T, B, D]) as tf.Tensor3D;
  const ok4 = [0, 1, 2, 3].map(() => ({
    h: tf.zeros([B, H]) as tf.Tensor2D,
    c: tf.zeros([B, H]) as tf.Tensor2D,
  }));
  rejectsWith(
    () => stack.forward(xs, { initialState: ok4.slice(0, 2) }),
    "2 states, expected 4",
    "l1_reverse",
  );
  const bad = [...ok4.slice(0, 2), { h: tf.zeros([B, H + 1]) as tf.Tensor2D, c: ok4[2].c }, ok4[3]];
  rejectsWith(
    () => stack.forward(xs, { initialState: bad }),
    "initialState[2] (l1)",
    "[2, 6]",
    "expected [2, 5]",
  );
  const noC = [...ok4.slice(0, 3), { h: ok4[3].h }];
  rejectsWith(() => stack.forward(xs, { initialState: noC }), "state.c is missing");
  stack.dispose();
});

Deno.test("setWeights() names a bad key or shape and changes nothing", async () => {
  const stack = stackOf("rnn");
  const weights = stack.getWeights();
  const before = await values(stack.trainableVariables[0]);
  rejectsWith(() => stack.setWeights({ ...weights, l2: weights.l0 }), 'unexpected key "l2"');
  const { l1_reverse: _, ...missing } = weights;
  rejectsWith(() => stack.setWeights(missing), 'missing key "l1_reverse"');
  const scaled = { ...weights, l0: { ...weights.l0, W_xh: tf.mul(weights.l0.W_xh, 2) } };
  const wrong = { ...scaled, l1: { ...weights.l1, W_xh: tf.zeros([H, H]) } };
  rejectsWith(() => stack.setWeights(wrong), '"l1"', "W_xh has shape [5, 5]", "expected [10, 5]");
  deepStrictEqual(
    await values(stack.trainableVariables[0]),
    before,
    "l0 untouched though it came first",
  );
  stack.dispose();
});

Deno.test("forward() returns exactly its outputs and states, and leaks nothing", () => {
  const stack = stackOf("lstm", { dropout: 0.3 });
  const xs = tf.randomNormal([T, B, D]) as tf.Tensor3D;
  const before = tf.memory().numTensors;
  const result = stack.forward(xs, { training: true });
  deepStrictEqual(tf.memory().numTensors, before + 1 + 4 * 2);
  tf.dispose([result.outputs, ...result.state.flatMap((s) => Object.values(s))]);
  deepStrictEqual(tf.memory().numTensors, before);
  tf.tidy(() => {
    tf.variableGrads(() => tf.sum(stack.forward(xs, { training: true }).outputs) as tf.Scalar);
  });
  deepStrictEqual(tf.memory().numTensors, before);
  stack.dispose();
  xs.dispose();
});
