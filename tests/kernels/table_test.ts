/**
 * The backend x kind table: a kind without an entry (lnlstm, a user's own
 * cell) runs on the plain path on every backend, never an error; the fused
 * kernels refuse it clearly when called directly, and the WGSL path declines.
 */
import { deepStrictEqual, ok } from "node:assert";
import { tf, useBackend } from "../../lib/tf.ts";
import { SEQUENCE_KERNELS, sequenceKernel } from "../../lib/kernels/table.ts";
import { fusedSequence, hasFusedKernels } from "../../lib/kernels/fused_sequence.ts";
import { webgpuSequence } from "../../lib/kernels/webgpu/sequence.ts";
import { initialWeights } from "../../lib/cells/init.ts";
import { plainSequence, runSequence } from "../../lib/layers/sequence.ts";
import { NATIVE } from "../_native.ts";
import { assertClose, rejectsWith, values } from "../cells/_helpers.ts";

const ln = { kind: "lnlstm", inputSize: 3, hiddenSize: 4 };

Deno.test("sequenceKernel() has entries for rnn, gru and lstm on every backend, none for lnlstm", () => {
  for (const backend of ["cpu", "wasm", "webgpu", "native", "some-new-backend"]) {
    for (const kind of ["rnn", "gru", "lstm"]) {
      ok(sequenceKernel({ kind, inputSize: 1, hiddenSize: 1 }, backend), `${kind} on ${backend}`);
    }
    deepStrictEqual(sequenceKernel(ln, backend), undefined);
  }
  deepStrictEqual(SEQUENCE_KERNELS.webgpu.gru?.rows, false);
  const custom = {
    ...ln,
    kind: "lstm",
    definition: {
      kind: "lstm",
      gates: ["h"],
      state: ["h"],
      step: () => ({ h: tf.zeros([1, 1]) as tf.Tensor2D }),
    },
  } as const;
  deepStrictEqual(sequenceKernel(custom, "wasm"), undefined, "a user's own cell, even named lstm");
});

Deno.test("fusedSequence() refuses a kind without kernels; webgpuSequence() declines it", () => {
  ok(!hasFusedKernels(ln));
  const w = initialWeights(ln, { seed: 1 });
  const xs = tf.ones([2, 1, 3]) as tf.Tensor3D;
  const state = { h: tf.zeros([1, 4]) as tf.Tensor2D, c: tf.zeros([1, 4]) as tf.Tensor2D };
  rejectsWith(() => fusedSequence(ln, w, xs, state), "no kernels for a lnlstm cell", "plain path");
  deepStrictEqual(webgpuSequence(ln, w, xs, state), null);
});

Deno.test("runSequence() runs lnlstm on the plain path on every backend: same values as plainSequence()", async () => {
  const xsData = Array.from(
    { length: 3 },
    (_, t) => Array.from({ length: 2 }, (_, b) => [t - b, 0.5 * t, b + 0.25]),
  );
  const results: Record<string, number[]> = {};
  try {
    for (const name of ["cpu", ...NATIVE, "wasm", "webgpu"]) {
      await useBackend(name);
      const w = initialWeights(ln, { seed: 3, init: "xavier" });
      const xs = tf.tensor3d(xsData) as tf.Tensor3D;
      const state = { h: tf.zeros([2, 4]) as tf.Tensor2D, c: tf.zeros([2, 4]) as tf.Tensor2D };
      const run = runSequence(ln, w, xs, state, { lengths: [3, 2] });
      results[name] = await values(run.outputs);
      if (name === "cpu") {
        const plain = plainSequence(ln, w, xs, state);
        const full = await values(plain.outputs);
        assertClose(results.cpu.slice(0, 8), full.slice(0, 8), 1e-6, "step 0 as the plain path");
      }
    }
  } finally {
    await useBackend("cpu");
  }
  for (const name of Object.keys(results)) assertClose(results[name], results.cpu, 1e-4, name);
});
