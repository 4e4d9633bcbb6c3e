import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";
import { tf, useBackend } from "../../lib/tf.ts";
import { crossEntropy, LanguageModel, modelConfig, timeMajor } from "../../lib/lm/model.ts";
import {
  clipByGlobalNorm,
  computeGradients,
  makeOptimizer,
  trainStep,
} from "../../lib/training/train.ts";
import { disposeStates } from "../../lib/cells/state.ts";
import { NonFiniteLossError } from "../../lib/training/fit.ts";
import { fitLanguageModel } from "../../lib/lm/fit.ts";
import { evaluatePerplexity } from "../../lib/lm/evaluate.ts";
import { Rng } from "../../lib/rng.ts";
import type { State } from "../../lib/cells/types.ts";

function randomIds(rng: Rng, n: number, vocab: number): Int32Array {
  return Int32Array.from({ length: n }, () => rng.int(vocab));
}

Deno.test("crossEntropy() equals a float64 log-softmax reference", async () => {
  const rng = new Rng(1);
  const [N, V] = [5, 7];
  const logits = Array.from({ length: N * V }, () => rng.normal() * 3);
  const targets = randomIds(rng, N, V);
  let expected = 0;
  for (let n = 0; n < N; n++) {
    const row = logits.slice(n * V, n * V + V);
    const top = Math.max(...row);
    const logZ = top + Math.log(row.reduce((a, v) => a + Math.exp(v - top), 0));
    expected += (logZ - row[targets[n]]) / N;
  }
  const loss = crossEntropy(tf.tensor2d(logits, [N, V]), targets);
  ok(Math.abs((await loss.data())[0] - expected) < 1e-5);
});

Deno.test("clipByGlobalNorm() scales by theta/||g|| only above theta", async () => {
  const a = [0.5, -1.5, 2], b = [3, -0.25];
  const norm = Math.hypot(...a, ...b);
  const clipped = clipByGlobalNorm({ a: tf.tensor(a), b: tf.tensor(b) }, 1);
  ok(Math.abs((await clipped.norm.data())[0] - norm) < 1e-5);
  const got = [...await clipped.grads.a.data(), ...await clipped.grads.b.data()];
  [...a, ...b].forEach((v, i) => ok(Math.abs(got[i] - v / norm) < 1e-6));
  const loose = clipByGlobalNorm({ a: tf.tensor(a) }, 100);
  deepStrictEqual([...await loose.grads.a.data()], a);
});

Deno.test("timeMajor() reorders [B, T] ids to the logits' t*B + b rows", () => {
  deepStrictEqual([...timeMajor(Int32Array.of(1, 2, 3, 4, 5, 6), 3, 2)], [1, 3, 5, 2, 4, 6]);
});

Deno.test("model gradients match central differences of the loss", async () => {
  const model = new LanguageModel(
    modelConfig({ vocabSize: 5, cell: "gru", hiddenSize: 4, embeddingSize: 3, seed: 3 }),
  );
  // Bigger weights than the default N(0, 0.01), so every gradient is far from zero.
  const rng = new Rng(9);
  for (const v of model.trainableVariables) {
    v.assign(tf.tensor(Array.from({ length: v.size }, () => rng.normal() * 0.5), v.shape));
  }
  const batch = { x: randomIds(rng, 6, 5), batchSize: 2, numSteps: 3 };
  const targets = timeMajor(randomIds(rng, 6, 5), 2, 3);
  const lossOf = () =>
    tf.tidy(() => {
      const { logits, state } = model.forward(batch);
      tf.dispose(state.flatMap((s) => [s.h, ...(s.c ? [s.c] : [])]));
      return crossEntropy(logits, targets);
    });
  const { grads } = tf.variableGrads(lossOf, model.trainableVariables);
  const eps = 1e-2;
  for (const v of model.trainableVariables) {
    const values = await v.data();
    const analytic = await grads[v.name].data();
    for (const i of [0, Math.floor(v.size / 2), v.size - 1]) {
      const shifted = (delta: number) => {
        const copy = Float32Array.from(values);
        copy[i] += delta;
        v.assign(tf.tensor(copy, v.shape));
        return lossOf().dataSync()[0];
      };
      const numeric = (shifted(eps) - shifted(-eps)) / (2 * eps);
      v.assign(tf.tensor(values, v.shape));
      ok(
        Math.abs(numeric - analytic[i]) < 2e-3 + 0.02 * Math.abs(numeric),
        `${v.name}[${i}]: numeric ${numeric} vs analytic ${analytic[i]}`,
      );
    }
  }
  model.dispose();
});

Deno.test("training steps leave tf.memory().numTensors flat with carried state", () => {
  const model = new LanguageModel(modelConfig({ vocabSize: 6, cell: "lstm", hiddenSize: 5 }));
  const optimizer = makeOptimizer("adam", 0.01);
  const rng = new Rng(2);
  let state: State[] | undefined;
  const counts: number[] = [];
  for (let i = 0; i < 12; i++) {
    const batch = { x: randomIds(rng, 8, 6), y: randomIds(rng, 8, 6), batchSize: 2, numSteps: 4 };
    const result = trainStep(model, optimizer, batch, state);
    disposeStates(state);
    tf.dispose([result.loss, result.gradNorm]);
    state = result.state;
    counts.push(tf.memory().numTensors);
  }
  // Adam creates its moments on the first step; from the second on nothing grows.
  strictEqual(new Set(counts.slice(1)).size, 1, `tensor counts: ${counts}`);
  disposeStates(state);
  model.dispose();
  optimizer.dispose();
});

Deno.test("fitLanguageModel() lowers perplexity on a repeating sequence and validation agrees", async () => {
  const pattern = [0, 1, 2, 3, 2, 1];
  const ids = Int32Array.from({ length: 600 }, (_, i) => pattern[i % pattern.length]);
  const source = { length: ids.length, read: (s: number, n: number) => ids.slice(s, s + n) };
  const model = new LanguageModel(modelConfig({ vocabSize: 4, cell: "gru", hiddenSize: 16 }));
  const batch = (start: number) => ({
    x: ids.slice(start, start + 40),
    y: ids.slice(start + 1, start + 41),
    batchSize: 4,
    numSteps: 10,
  });
  const { history } = await fitLanguageModel(model, {
    epochs: 15,
    rng: new Rng(0),
    optimizer: makeOptimizer("adam", 0.05),
    sampling: "random",
    batches: () => Object.assign([batch(0), batch(100), batch(200)], { numBatches: 3 }),
    valid: source,
    batchSize: 4,
    numSteps: 10,
  });
  const first = history[0], last = history.at(-1)!;
  ok(
    last.trainPerplexity < first.trainPerplexity / 1.5,
    `${first.trainPerplexity} -> ${last.trainPerplexity}`,
  );
  ok(last.validPerplexity! < 2, `valid ${last.validPerplexity}`);
  const again = await evaluatePerplexity(model, source, { batchSize: 4, numSteps: 10 });
  ok(Math.abs(again.perplexity - last.validPerplexity!) < 1e-9);
  model.dispose();
});

Deno.test("fitLanguageModel() with onNonFinite 'skip' drops non-finite steps and halves the learning rate", async () => {
  const model = new LanguageModel(modelConfig({ vocabSize: 4, cell: "rnn", hiddenSize: 5 }));
  const optimizer = makeOptimizer("sgd", 0.8);
  const batch = {
    x: Int32Array.of(0, 1, 2, 3),
    y: Int32Array.of(1, 2, 3, 0),
    batchSize: 1,
    numSteps: 4,
  };
  const skipped: [number, number, number][] = [];
  const { history } = await fitLanguageModel(model, {
    epochs: 1,
    optimizer,
    sampling: "random",
    rng: new Rng(0),
    batches: () => Object.assign([batch, batch, batch, batch], { numBatches: 4 }),
    batchSize: 1,
    numSteps: 4,
    onNonFinite: "skip",
    onStep: ({ step }) => {
      // Poison the weights after step 2: every later step's loss is NaN.
      if (step === 2) model.output.bias!.assign(tf.fill([4], NaN) as tf.Tensor1D);
    },
    onSkip: ({ epoch, step }, rate) => skipped.push([epoch, step, rate]),
  });
  deepStrictEqual(skipped, [[1, 3, 0.4], [1, 4, 0.2]]);
  strictEqual(history[0].tokens, 8, "only the two finite steps count");
  ok(Number.isFinite(history[0].trainPerplexity));
  model.dispose();
  optimizer.dispose();
});

Deno.test("fitLanguageModel() with onNonFinite 'stop' throws NonFiniteLossError naming epoch and step", async () => {
  const model = new LanguageModel(modelConfig({ vocabSize: 4, cell: "lstm", hiddenSize: 3 }));
  model.output.kernel.assign(tf.fill([3, 4], Infinity) as tf.Tensor2D);
  const batch = { x: Int32Array.of(0, 1), y: Int32Array.of(1, 2), batchSize: 1, numSteps: 2 };
  await rejects(
    () =>
      fitLanguageModel(model, {
        epochs: 1,
        optimizer: makeOptimizer("sgd", 1),
        sampling: "random",
        rng: new Rng(0),
        batches: () => Object.assign([batch], { numBatches: 1 }),
        batchSize: 1,
        numSteps: 2,
      }),
    (error: Error) => {
      ok(error instanceof NonFiniteLossError);
      strictEqual(error.epoch, 1);
      strictEqual(error.step, 1);
      return true;
    },
  );
  model.dispose();
});

Deno.test("a language model with an embedding gets the same gradients on wasm as on cpu", async () => {
  // tf.gather's gradient needs UnsortedSegmentSum, which tfjs-backend-wasm lacks.
  const batch = { x: Int32Array.of(1, 2, 3, 1, 4, 0), y: Int32Array.of(2, 3, 1, 4, 0, 2) };
  const minibatch = { ...batch, batchSize: 2, numSteps: 3 };
  const gradientsOn = async (backend: "cpu" | "wasm") => {
    await useBackend(backend);
    const model = new LanguageModel(
      modelConfig({ vocabSize: 5, cell: "gru", hiddenSize: 4, embeddingSize: 3, seed: 7 }),
    );
    const { loss, grads, state } = computeGradients(model, minibatch, undefined);
    const embedding = Array.from(await grads[model.embedding!.table.name].data());
    tf.dispose([loss, ...Object.values(grads)]);
    disposeStates(state);
    model.dispose();
    return embedding;
  };
  try {
    const [cpu, wasm] = [await gradientsOn("cpu"), await gradientsOn("wasm")];
    ok(cpu.some((g) => g !== 0), "the embedding gets a gradient");
    cpu.forEach((g, i) => ok(Math.abs(g - wasm[i]) < 1e-5, `row-major ${i}: ${g} vs ${wasm[i]}`));
  } finally {
    await useBackend("cpu");
  }
});
