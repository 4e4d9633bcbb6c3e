/**
 * The same cells and stacks on cpu, wasm and webgpu (llvmpipe in CI) agree to
 * 1e-4, forward and backward. Values are read with `await data()`, which
 * every backend supports.
 */
import { NATIVE } from "../_native.ts";
import { deepStrictEqual } from "node:assert";
import { tf, useBackend } from "../../lib/tf.ts";
import { recurrent } from "../../lib/layers/stack.ts";
import { cellOf } from "./_checks.ts";
import {
  assertClose,
  namedTensors,
  specOf,
  tensor3d,
  values,
  type Variant,
  VARIANTS,
} from "./_helpers.ts";
import { randomMat, randomNamed, rng } from "../_reference.ts";

const BACKENDS = ["cpu", ...NATIVE, "wasm", "webgpu"];
const TOLERANCE = 1e-4;
const [T, B, D, H] = [4, 3, 5, 6];

/** Outputs, final state and every gradient of one cell, read back as plain arrays. */
async function cellRun(variant: Variant): Promise<Record<string, number[]>> {
  const cell = cellOf(specOf(variant, D, H));
  const named = namedTensors(randomNamed(variant.kind, D, H, rng(800), variant.options));
  cell.setWeights(named);
  const xs = tensor3d(Array.from({ length: T }, (_, t) => randomMat(B, D, rng(810 + t), 2)));
  const coef = tensor3d(Array.from({ length: T }, (_, t) => randomMat(B, H, rng(820 + t))));
  const { outputs, state } = cell.forward(xs);
  const loss = () => tf.sum(tf.mul(cell.forward(xs).outputs, coef)) as tf.Scalar;
  const { grads } = tf.variableGrads(loss);
  const [dxs] = tf.grads((x: tf.Tensor) =>
    tf.sum(tf.mul(cell.forward(x as tf.Tensor3D).outputs, coef))
  )([xs]);
  const read: Record<string, number[]> = {
    outputs: await values(outputs),
    h: await values(state.h),
    dxs: await values(dxs),
  };
  if (state.c) read.c = await values(state.c);
  for (const [key, v] of Object.entries(cell.weights)) {
    read[`d${key}`] = await values(grads[v!.name]);
  }
  tf.dispose([
    xs,
    coef,
    outputs,
    dxs,
    ...Object.values(state),
    ...Object.values(grads),
    ...Object.values(named),
  ]);
  cell.dispose();
  return read;
}

/** A 2-layer bidirectional stack's outputs and states, dropout on (seeded), read back. */
async function stackRun(cell: "rnn" | "gru" | "lstm"): Promise<Record<string, number[]>> {
  const stack = recurrent({
    cell,
    inputSize: D,
    hiddenSize: H,
    layers: 2,
    bidirectional: true,
    dropout: 0.25,
    init: "xavier",
    seed: 5,
    ...(cell === "gru" ? { resetAfter: true } : {}),
  });
  const xs = tensor3d(Array.from({ length: T }, (_, t) => randomMat(B, D, rng(830 + t), 2)));
  const { outputs, state } = stack.forward(xs, { training: true, seed: 3 });
  const read: Record<string, number[]> = { outputs: await values(outputs) };
  for (const [k, s] of state.entries()) read[`h${k}`] = await values(s.h);
  tf.dispose([xs, outputs, ...state.flatMap((s) => Object.values(s))]);
  stack.dispose();
  return read;
}

async function onEveryBackend(
  run: () => Promise<Record<string, number[]>>,
): Promise<Record<string, Record<string, number[]>>> {
  const results: Record<string, Record<string, number[]>> = {};
  try {
    for (const name of BACKENDS) {
      await useBackend(name);
      results[name] = await run();
    }
  } finally {
    await useBackend("cpu");
  }
  return results;
}

function assertAgree(results: Record<string, Record<string, number[]>>, label: string): void {
  for (const name of ["wasm", "webgpu"]) {
    deepStrictEqual(Object.keys(results[name]), Object.keys(results.cpu));
    for (const key of Object.keys(results.cpu)) {
      assertClose(
        results[name][key],
        results.cpu[key],
        TOLERANCE,
        `${label} ${name} vs cpu: ${key}`,
      );
    }
  }
}

for (const variant of VARIANTS) {
  Deno.test(`${variant.label} cell: cpu, wasm and webgpu agree to 1e-4, outputs and gradients`, async () => {
    assertAgree(await onEveryBackend(() => cellRun(variant)), variant.label);
  });
}

for (const cell of ["rnn", "gru", "lstm"] as const) {
  Deno.test(`2-layer bidirectional ${cell} stack with dropout: cpu, wasm and webgpu agree to 1e-4`, async () => {
    assertAgree(await onEveryBackend(() => stackRun(cell)), cell);
  });
}
