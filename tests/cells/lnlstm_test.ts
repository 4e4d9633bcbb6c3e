/**
 * The layer-normalized LSTM against the float64 reference of `_lnlstm64.ts`
 * (one step, a padded sequence with lengths, finite-difference gradients of
 * every parameter), on every backend, in training, through a checkpoint,
 * and refused by ONNX export.
 */
import { deepStrictEqual, ok } from "node:assert";
import { tf, useBackend } from "../../lib/tf.ts";
import { lnlstmStep } from "../../lib/cells/lnlstm.ts";
import { namedToFused } from "../../lib/cells/spec.ts";
import { recurrent } from "../../lib/layers/stack.ts";
import { loadCheckpoint, saveCheckpoint } from "../../lib/training/checkpoint.ts";
import { namedWeightsOf, setNamedWeightsOf } from "../../lib/training/named_weights.ts";
import { NATIVE } from "../_native.ts";
import { assertClose, rejectsWith, values } from "./_helpers.ts";
import {
  GATES,
  type LnNamed,
  lnSequence,
  type LnState,
  lnStep,
  type Mat,
  randomLnNamed,
  randomMat,
} from "./_lnlstm64.ts";
import { Rng } from "../../lib/rng.ts";

const spec = (D: number, H: number) => ({ kind: "lnlstm", inputSize: D, hiddenSize: H });

function namedTensors(w: LnNamed): Record<string, tf.Tensor> {
  return Object.fromEntries(
    Object.entries(w).map((
      [k, v],
    ) => [k, Array.isArray(v[0]) ? tf.tensor2d(v as Mat) : tf.tensor1d(v as number[])]),
  );
}

const t2 = (m: Mat) => tf.tensor2d(m) as tf.Tensor2D;
const t3 = (ms: Mat[]) => tf.tensor3d(ms) as tf.Tensor3D;

Deno.test("lnlstm: one step matches the float64 reference (h and c)", async () => {
  const [B, D, H] = [3, 4, 5];
  const w = randomLnNamed(D, H, 1);
  const rng = new Rng(2);
  const x = randomMat(B, D, rng, 2);
  const state: LnState = { h: randomMat(B, H, rng), c: randomMat(B, H, rng, 2) };
  const expected = lnStep(w, x, state);
  const named = namedTensors(w);
  const fused = namedToFused(spec(D, H), named);
  const before = tf.memory().numTensors;
  const got = lnlstmStep(fused, t2(x), { h: t2(state.h), c: t2(state.c) });
  assertClose(await values(got.h), expected.h, 1e-5, "h");
  assertClose(await values(got.c!), expected.c, 1e-5, "c");
  // The reference's LayerNorm matters: without it the step would differ.
  ok(Math.abs(expected.h[0][0] - got.h.dataSync()[0]) < 1e-5);
  tf.dispose([got.h, got.c!]);
  ok(tf.memory().numTensors <= before + 3, "only the inputs made here remain"); // x, h, c
  tf.dispose([...Object.values(named), ...Object.values(fused).filter((t) => t !== undefined)]);
});

/** A one-layer lnlstm stack holding the reference weights. */
function stackOf(w: LnNamed, D: number, H: number) {
  const stack = recurrent({ cell: "lnlstm", inputSize: D, hiddenSize: H });
  const named = namedTensors(w);
  stack.setWeights({ l0: named });
  tf.dispose(Object.values(named));
  return stack;
}

Deno.test("lnlstm: a padded sequence with lengths matches the reference, outputs and final state", async () => {
  const [T, B, D, H] = [5, 3, 4, 3];
  const lengths = [5, 2, 4];
  const w = randomLnNamed(D, H, 3);
  const rng = new Rng(4);
  const xs = Array.from({ length: T }, () => randomMat(B, D, rng, 2));
  const start: LnState = { h: randomMat(B, H, rng), c: randomMat(B, H, rng) };
  const expected = lnSequence(w, xs, start, lengths);
  const stack = stackOf(w, D, H);
  const initialState = [{ h: t2(start.h), c: t2(start.c) }];
  const { outputs, state } = stack.forward(t3(xs), { initialState, lengths });
  assertClose(await values(outputs), expected.outputs, 1e-5, "outputs");
  assertClose(await values(state[0].h), expected.state.h, 1e-5, "h");
  assertClose(await values(state[0].c!), expected.state.c, 1e-5, "c");
  stack.dispose();
});

Deno.test("lnlstm: gradients of every parameter, the inputs and the initial state match finite differences", () => {
  const [T, B, D, H] = [3, 2, 3, 3];
  const lengths = [3, 2];
  const w = randomLnNamed(D, H, 5);
  const rng = new Rng(6);
  const xs = Array.from({ length: T }, () => randomMat(B, D, rng, 1.5));
  const start: LnState = { h: randomMat(B, H, rng), c: randomMat(B, H, rng) };
  const A = Array.from({ length: T }, () => randomMat(B, H, rng));
  const Ch = randomMat(B, H, rng), Cc = randomMat(B, H, rng);
  const dot = (a: Mat, b: Mat) =>
    a.reduce((s, row, r) => s + row.reduce((u, v, j) => u + v * b[r][j], 0), 0);
  const refLoss = (wt: LnNamed, x: Mat[], s: LnState) => {
    const run = lnSequence(wt, x, s, lengths);
    return run.outputs.reduce((sum, o, t) => sum + dot(o, A[t]), 0) + dot(run.state.h, Ch) +
      dot(run.state.c, Cc);
  };
  const stack = stackOf(w, D, H);
  const xsT = t3(xs), h0 = t2(start.h), c0 = t2(start.c);
  const [AT, ChT, CcT] = [t3(A), t2(Ch), t2(Cc)];
  const loss = (x: tf.Tensor, h: tf.Tensor, c: tf.Tensor) => {
    const run = stack.forward(x as tf.Tensor3D, {
      initialState: [{ h: h as tf.Tensor2D, c: c as tf.Tensor2D }],
      lengths,
    });
    return tf.addN([
      tf.sum(tf.mul(run.outputs, AT)),
      tf.sum(tf.mul(run.state[0].h, ChT)),
      tf.sum(tf.mul(run.state[0].c!, CcT)),
    ]) as tf.Scalar;
  };
  const { grads } = tf.variableGrads(() => loss(xsT, h0, c0));
  const [dxs, dh0, dc0] = tf.grads(loss)([xsT, h0, c0]);
  // Per-parameter analytic gradients under the d2l names: split the fused ones.
  const fusedGrads: Record<string, tf.Tensor> = {};
  const keys = ["Wx", "Wh", "b", "gx", "betax", "gh", "betah", "gc", "betac"];
  stack.cells[0].weights && keys.forEach((k) => {
    fusedGrads[k] = grads[stack.cells[0].weights[k]!.name];
  });
  const analytic: Record<string, number[]> = {};
  const cols = (t: tf.Tensor, g: number) => tf.split(t, 4, t.rank - 1)[g];
  GATES.forEach((g, k) => {
    analytic[`W_x${g}`] = Array.from(cols(fusedGrads.Wx, k).dataSync());
    analytic[`W_h${g}`] = Array.from(cols(fusedGrads.Wh, k).dataSync());
    analytic[`b_${g}`] = Array.from(cols(fusedGrads.b, k).dataSync());
  });
  const extra = {
    g_x: "gx",
    beta_x: "betax",
    g_h: "gh",
    beta_h: "betah",
    g_c: "gc",
    beta_c: "betac",
  };
  for (const [name, key] of Object.entries(extra)) {
    analytic[name] = Array.from(fusedGrads[key].dataSync());
  }
  const eps = 1e-6;
  const check = (label: string, a: number, n: number) =>
    ok(Math.abs(a - n) <= 1e-4 + 1e-3 * Math.abs(n), `${label}: analytic ${a}, numeric ${n}`);
  let checked = 0;
  for (const [name, value] of Object.entries(w)) {
    const flat = (value as (number | number[])[]).flat();
    flat.forEach((_, i) => {
      const bump = (delta: number): LnNamed => {
        const copy = structuredClone(w);
        const v = copy[name];
        if (Array.isArray(v[0])) {
          (v as Mat)[Math.floor(i / (v[0] as number[]).length)][i % (v[0] as number[]).length] +=
            delta;
        } else (v as number[])[i] += delta;
        return copy;
      };
      const numeric = (refLoss(bump(eps), xs, start) - refLoss(bump(-eps), xs, start)) / (2 * eps);
      check(`d${name}[${i}]`, analytic[name][i], numeric);
      checked++;
    });
  }
  deepStrictEqual(checked, 4 * (D * H + H * H + H) + 4 * 4 * H + 2 * H);
  const inputs: [string, tf.Tensor, (d: number, i: number) => number][] = [
    ["dxs", dxs, (d, i) => {
      const x = structuredClone(xs);
      x[Math.floor(i / (B * D))][Math.floor(i / D) % B][i % D] += d;
      return refLoss(w, x, start);
    }],
    ["dh0", dh0, (d, i) => {
      const s = structuredClone(start);
      s.h[Math.floor(i / H)][i % H] += d;
      return refLoss(w, xs, s);
    }],
    ["dc0", dc0, (d, i) => {
      const s = structuredClone(start);
      s.c[Math.floor(i / H)][i % H] += d;
      return refLoss(w, xs, s);
    }],
  ];
  for (const [label, grad, at] of inputs) {
    Array.from(grad.dataSync()).forEach((a, i) =>
      check(`${label}[${i}]`, a, (at(eps, i) - at(-eps, i)) / (2 * eps))
    );
  }
  // Padding gets no gradient: row 1 has length 2, so dxs at t = 2 is 0 there.
  deepStrictEqual(Array.from(dxs.slice([2, 1, 0], [1, 1, D]).dataSync()), [0, 0, 0]);
  stack.dispose();
});

async function backendRun(): Promise<Record<string, number[]>> {
  const [T, B, D, H] = [4, 3, 5, 4];
  const w = randomLnNamed(D, H, 7);
  const rng = new Rng(8);
  const xs = t3(Array.from({ length: T }, () => randomMat(B, D, rng, 2)));
  const coef = t3(Array.from({ length: T }, () => randomMat(B, H, rng)));
  const stack = recurrent({
    cell: "lnlstm",
    inputSize: D,
    hiddenSize: H,
    layers: 2,
    bidirectional: true,
  });
  const named = namedTensors(w);
  const upper = namedTensors(randomLnNamed(2 * H, H, 9));
  stack.setWeights({ l0: named, l0_reverse: named, l1: upper, l1_reverse: upper });
  const run = () => stack.forward(xs, { lengths: [4, 2, 3] });
  const { outputs, state } = run();
  const { grads } = tf.variableGrads(() => {
    const r = run();
    return tf.sum(tf.mul(tf.slice(r.outputs, [0, 0, 0], [T, B, H]), coef)) as tf.Scalar;
  });
  const read: Record<string, number[]> = { outputs: await values(outputs) };
  for (const [k, s] of state.entries()) read[`c${k}`] = await values(s.c!);
  for (const [k, v] of stack.trainableVariables.entries()) {
    read[`d${k}`] = await values(grads[v.name]);
  }
  tf.dispose([
    xs,
    coef,
    outputs,
    ...state.flatMap((s) => [s.h, s.c!]),
    ...Object.values(grads),
    ...Object.values(named),
    ...Object.values(upper),
  ]);
  stack.dispose();
  return read;
}

Deno.test("lnlstm 2-layer bidirectional stack with lengths: cpu, native, wasm and webgpu agree to 1e-4", async () => {
  const results: Record<string, Record<string, number[]>> = {};
  try {
    for (const name of ["cpu", ...NATIVE, "wasm", "webgpu"]) {
      await useBackend(name);
      results[name] = await backendRun();
    }
  } finally {
    await useBackend("cpu");
  }
  for (const name of Object.keys(results)) {
    for (const key of Object.keys(results.cpu)) {
      assertClose(results[name][key], results.cpu[key], 1e-4, `${name} vs cpu: ${key}`);
    }
  }
});

Deno.test("lnlstm: a short training run lowers the loss, with no tensor leak", () => {
  const [T, B, D, H] = [6, 8, 3, 8];
  const rng = new Rng(10);
  // Task: predict the running sum's sign of the first input feature.
  const xsData = Array.from({ length: T }, () => randomMat(B, D, rng));
  const target: Mat[] = [];
  const sums = Array(B).fill(0);
  for (let t = 0; t < T; t++) {
    target.push(xsData[t].map((row, b) => [(sums[b] += row[0]) > 0 ? 1 : 0]));
  }
  const xs = t3(xsData), ys = t3(target);
  const stack = recurrent({ cell: "lnlstm", inputSize: D, hiddenSize: H, init: "xavier", seed: 1 });
  const head = tf.variable(tf.randomNormal([H, 1], 0, 0.3, "float32", 2));
  const optimizer = tf.train.adam(0.03);
  const loss = () =>
    tf.tidy(() => {
      const { outputs } = stack.forward(xs);
      const logits = tf.reshape(tf.matMul(tf.reshape(outputs, [T * B, H]), head), [T, B, 1]);
      return tf.losses.sigmoidCrossEntropy(ys, logits) as tf.Scalar;
    });
  const first = loss().dataSync()[0];
  optimizer.minimize(loss); // one step to create the optimizer's slots
  const before = tf.memory().numTensors;
  for (let step = 0; step < 40; step++) optimizer.minimize(loss, true)?.dispose();
  deepStrictEqual(tf.memory().numTensors, before, "training steps leak no tensors");
  const last = loss().dataSync()[0];
  ok(last < 0.7 * first, `loss fell from ${first} to ${last}`);
  stack.dispose();
  optimizer.dispose();
  tf.dispose([xs, ys, head]);
});

Deno.test("lnlstm: weights survive a checkpoint round trip, LayerNorm gains included", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const stack = recurrent({ cell: "lnlstm", inputSize: 3, hiddenSize: 2, layers: 2, seed: 3 });
    const named = namedTensors(randomLnNamed(3, 2, 11));
    stack.setWeights({ ...stack.getWeights(), l0: named });
    const weights = namedWeightsOf({}, { rnn: stack });
    ok(Object.keys(weights).some((k) => k.endsWith("g_c")), Object.keys(weights).join());
    await saveCheckpoint(`${dir}/ckpt`, {
      weights,
      config: { cell: "lnlstm" },
      vocab: [],
      progress: {},
    });
    const loaded = await loadCheckpoint(`${dir}/ckpt`);
    const other = recurrent({ cell: "lnlstm", inputSize: 3, hiddenSize: 2, layers: 2, seed: 99 });
    setNamedWeightsOf(loaded.weights, {}, { rnn: other });
    const xs = tf.randomNormal([4, 2, 3], 0, 1, "float32", 5) as tf.Tensor3D;
    const a = await values(stack.forward(xs).outputs), b = await values(other.forward(xs).outputs);
    assertClose(b, a, 0, "outputs after the round trip");
    stack.dispose();
    other.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lnlstm: PyTorch layouts are refused with a UsageError that says why", () => {
  const stack = recurrent({ cell: "lnlstm", inputSize: 3, hiddenSize: 2 });
  rejectsWith(() => stack.loadTorchStateDict({}), "PyTorch has no lnlstm");
  rejectsWith(
    () => recurrent({ cell: "lnlstm", inputSize: 3, hiddenSize: 2, resetAfter: true }),
    "resetAfter is for gru",
  );
  stack.dispose();
});

Deno.test("lnlstm: ONNX export is refused with a UsageError that points to safetensors", async () => {
  const { GraphBuilder } = await import("../../lib/export/_graph.ts");
  const { recurrentGraph } = await import("../../lib/export/_recurrent.ts");
  const stack = recurrent({ cell: "lnlstm", inputSize: 3, hiddenSize: 2 });
  rejectsWith(
    () => recurrentGraph(new GraphBuilder(), stack, "xs"),
    "lnlstm has no ONNX operator",
    "--format safetensors",
  );
  stack.dispose();
});
