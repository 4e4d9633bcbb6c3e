/**
 * Training on the webgpu backend (llvmpipe on CPU-only machines): the first
 * step's loss is finite, non-zero and equal to cpu's, and the tensor count
 * stays flat over 100 steps. These go through the WGSL step kernels (every cell kind).
 */
import { ok, strictEqual } from "node:assert";
import { tf, useBackend } from "../lib/tf.ts";
import { LanguageModel, modelConfig } from "../lib/lm/model.ts";
import { makeOptimizer, trainStep } from "../lib/training/train.ts";
import { disposeStates } from "../lib/cells/state.ts";
import { Rng } from "../lib/rng.ts";
import type { CellKind } from "../lib/cells/types.ts";
import type { State } from "../lib/cells/types.ts";

function batchOf(seed: number, vocab: number, batchSize: number, numSteps: number) {
  const rng = new Rng(seed);
  const ids = () => Int32Array.from({ length: batchSize * numSteps }, () => rng.int(vocab));
  return { x: ids(), y: ids(), batchSize, numSteps };
}

async function firstLosses(backend: string, cell: CellKind): Promise<number[]> {
  await useBackend(backend);
  const model = new LanguageModel(modelConfig({ vocabSize: 11, cell, hiddenSize: 8, seed: 4 }));
  // Weights far from the tiny default, so a wrong kernel shows in the loss.
  const rng = new Rng(21);
  for (const v of model.trainableVariables) {
    v.assign(tf.tensor(Array.from({ length: v.size }, () => rng.normal() * 0.4), v.shape));
  }
  const optimizer = makeOptimizer("sgd", 0.5);
  const losses: number[] = [];
  let state: State[] | undefined;
  for (let step = 0; step < 3; step++) {
    const result = trainStep(model, optimizer, batchOf(step, 11, 3, 6), state);
    losses.push((await result.loss.data())[0]);
    tf.dispose([result.loss, result.gradNorm]);
    disposeStates(state);
    state = result.state;
  }
  disposeStates(state);
  model.dispose();
  optimizer.dispose();
  await useBackend("cpu");
  return losses;
}

for (const cell of ["lstm", "gru", "rnn"] as const) {
  Deno.test(`webgpu training losses are finite, non-zero and equal cpu's: ${cell}`, async () => {
    const cpu = await firstLosses("cpu", cell);
    const gpu = await firstLosses("webgpu", cell);
    for (let i = 0; i < cpu.length; i++) {
      ok(Number.isFinite(gpu[i]) && gpu[i] > 0.1, `step ${i}: webgpu loss ${gpu[i]}`);
      ok(Math.abs(gpu[i] - cpu[i]) < 1e-4 * cpu[i], `step ${i}: webgpu ${gpu[i]} vs cpu ${cpu[i]}`);
    }
  });
}

Deno.test("100 training steps on webgpu leave tf.memory().numTensors flat", async () => {
  await useBackend("webgpu");
  const model = new LanguageModel(modelConfig({ vocabSize: 7, cell: "lstm", hiddenSize: 4 }));
  const optimizer = makeOptimizer("adam", 0.01);
  let state: State[] | undefined;
  const counts: number[] = [];
  for (let step = 0; step < 100; step++) {
    const result = trainStep(model, optimizer, batchOf(step, 7, 2, 4), state);
    await result.loss.data(); // a real readback each step, as training does
    tf.dispose([result.loss, result.gradNorm]);
    disposeStates(state);
    state = result.state;
    counts.push(tf.memory().numTensors);
  }
  strictEqual(new Set(counts.slice(1)).size, 1, `tensor counts vary: ${[...new Set(counts)]}`);
  disposeStates(state);
  model.dispose();
  optimizer.dispose();
  await useBackend("cpu");
});
