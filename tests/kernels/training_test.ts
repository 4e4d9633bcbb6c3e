/**
 * Training with the fused path: a tiny character language model (one-hot
 * input, recurrent cell, dense output, softmax cross-entropy, SGD with
 * clipping by global norm 1, state carried and detached between minibatches,
 * as in d2l's train_ch8). Checks that it trains exactly like the same model
 * on plain tf ops with autograd, and that it leaks no tensors.
 */
import { NATIVE } from "../_native.ts";
import { ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { Rng } from "../../lib/rng.ts";
import {
  type CellSpec,
  GATE_COUNT,
  type SequenceResult,
  type State,
} from "../../lib/cells/types.ts";
import { fusedSequence } from "../../lib/kernels/fused_sequence.ts";
import { linear } from "../../lib/kernels/linear.ts";
import { plainSequence } from "./_plain.ts";
import { assertClose, normals, onBackend } from "./_helpers.ts";

const V = 12, T = 6, B = 4, H = 8;

type Path = "fused" | "plain";

/** A deterministic token stream with some structure (so the loss goes down). */
function corpus(n: number): Int32Array {
  const rng = new Rng(11);
  const ids = new Int32Array(n);
  for (let i = 1; i < n; i++) {
    ids[i] = rng.next() < 0.7 ? (ids[i - 1] * 5 + 3) % V : Math.floor(rng.next() * V);
  }
  return ids;
}

/** A model and its training loop; `step()` returns the minibatch loss as a number. */
function languageModel(spec: CellSpec, path: Path) {
  const G = GATE_COUNT[spec.kind];
  const rng = new Rng(5);
  const v = (shape: number[], std: number) =>
    tf.variable(tf.tensor(normals(rng, shape.reduce((a, b) => a * b), std), shape));
  const params = {
    Wx: v([V, G * H], 0.3),
    Wh: v([H, G * H], 0.3),
    b: v([G * H], 0.1),
    bhh: v([H], 0.1),
    Wq: v([H, V], 0.3),
    bq: v([V], 0.1),
  };
  const trainable = Object.values(params).filter((p) => spec.resetAfter || p !== params.bhh);
  const optimizer = tf.train.sgd(1);
  const ids = corpus(B * T * 20 + 1);
  const cols = Math.floor((ids.length - 1) / B);
  let state: State | null = null;
  let i = 0;
  return {
    step(): number {
      if (i + T > cols) i = 0;
      if (i === 0 && state) tf.dispose([state.h, state.c!].filter(Boolean)), state = null;
      state ??= { h: tf.zeros([B, H]), c: spec.kind === "lstm" ? tf.zeros([B, H]) : undefined };
      const x = new Int32Array(T * B), y = new Int32Array(T * B);
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) {
          x[t * B + b] = ids[b * cols + i + t], y[t * B + b] = ids[b * cols + i + t + 1];
        }
      }
      i += T;
      const s0 = state;
      let next: State | null = null;
      const loss = tf.tidy(() => {
        const xs = tf.oneHot(tf.tensor2d(x, [T, B], "int32"), V).toFloat() as tf.Tensor3D;
        const labels = tf.oneHot(tf.tensor1d(y, "int32"), V);
        const { value, grads } = tf.variableGrads(() => {
          const seq = path === "fused" ? fusedSequence : plainSequence;
          const r: SequenceResult = seq(spec, params as never, xs, s0);
          next = { h: tf.keep(r.state.h), c: r.state.c ? tf.keep(r.state.c) : undefined };
          const o = tf.reshape(r.outputs, [T * B, H]) as tf.Tensor2D;
          const logits = path === "fused"
            ? linear(o, params.Wq as tf.Tensor2D, params.bq as tf.Tensor1D)
            : tf.add(tf.matMul(o, params.Wq), params.bq);
          return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
        }, trainable);
        const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
        const scale = tf.minimum(1, tf.div(1, norm));
        optimizer.applyGradients(
          Object.fromEntries(Object.entries(grads).map(([n, g]) => [n, tf.mul(g, scale)])),
        );
        return value;
      });
      tf.dispose([s0.h, s0.c!].filter(Boolean));
      state = next;
      const l = loss.dataSync()[0];
      loss.dispose();
      return l;
    },
    dispose() {
      if (state) tf.dispose([state.h, state.c!].filter(Boolean));
      tf.dispose(Object.values(params));
      optimizer.dispose();
    },
  };
}

const SPECS: CellSpec[] = [
  { kind: "rnn", inputSize: V, hiddenSize: H, nonlinearity: "tanh" },
  { kind: "rnn", inputSize: V, hiddenSize: H, nonlinearity: "relu" },
  { kind: "gru", inputSize: V, hiddenSize: H },
  { kind: "gru", inputSize: V, hiddenSize: H, resetAfter: true },
  { kind: "lstm", inputSize: V, hiddenSize: H },
];
const label = (s: CellSpec) =>
  s.kind + (s.nonlinearity ? ` (${s.nonlinearity})` : "") + (s.resetAfter ? " (reset after)" : "");

for (const backend of ["cpu", ...NATIVE, "wasm"]) {
  for (const spec of SPECS) {
    Deno.test(`training on the fused path gives the plain-autograd perplexity after 30 steps on ${backend}: ${label(spec)}`, async () => {
      await onBackend(backend, async () => {
        const fused = languageModel(spec, "fused"), plain = languageModel(spec, "plain");
        const lf: number[] = [], lp: number[] = [];
        for (let s = 0; s < 30; s++) lf.push(fused.step()), lp.push(plain.step());
        fused.dispose(), plain.dispose();
        const ppl = (ls: number[]) => Math.exp(ls.slice(-5).reduce((a, b) => a + b) / 5);
        ok(
          ppl(lf) < Math.exp(lf[0]),
          `the model learns (${Math.exp(lf[0]).toFixed(2)} -> ${ppl(lf).toFixed(2)})`,
        );
        await assertClose(Float64Array.of(ppl(lf)), Float64Array.of(ppl(lp)), 1e-4, "perplexity");
        await assertClose(Float64Array.from(lf), Float64Array.from(lp), 1e-4, "per-step losses");
      });
    });
  }
}

Deno.test("100 training steps on the fused path leave tf.memory().numTensors unchanged (wasm)", async () => {
  await onBackend("wasm", () => {
    for (const spec of [SPECS[0], SPECS[3], SPECS[4]]) {
      const model = languageModel(spec, "fused");
      model.step(); // first step creates the optimizer's and the state's tensors
      const before = tf.memory().numTensors;
      for (let s = 0; s < 100; s++) model.step();
      const after = tf.memory().numTensors;
      model.dispose();
      ok(after === before, `${label(spec)}: ${before} tensors before, ${after} after 100 steps`);
    }
  });
});
