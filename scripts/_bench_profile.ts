/**
 * `deno task bench --profile`: where the time of one project training step
 * goes (forward, backward, weight gradients, output layer, update).
 *
 * @module
 */

import { tf } from "../lib/tf.ts";

import { Rng } from "../lib/rng.ts";
import { type CellKind, GATE_COUNT } from "../lib/cells/types.ts";
import { fusedSequence } from "../lib/kernels/fused_sequence.ts";
import { linear } from "../lib/kernels/linear.ts";
import { crossEntropy } from "../lib/lm/model.ts";

import {
  BATCH,
  clipAndApply,
  HIDDEN,
  init,
  median,
  NUM_STEPS,
  trainStep,
} from "./_bench_common.ts";

// ---- profile of one project step ------------------------------------------------------

/** Median wall time of `f` in ms (each run in its own tidy; wasm and cpu are synchronous). */
function timeIt(f: () => void, reps = 7): number {
  tf.tidy(f);
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    tf.tidy(f);
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

/** `[a shape, b shape, count]` of every matmul in one training step, by part. */
function stepMatmuls(kind: CellKind, V: number): Record<string, [number[], number[], number][]> {
  const T = NUM_STEPS, B = BATCH, H = HIDDEN, G = GATE_COUNT[kind], N = T * B;
  const A = H + V + 1; // [Hprev, X, 1]: the weight-gradient operand
  const common = {
    inputProjection: [[[N, V], [V, G * H], 1]],
    inputGrad: [[[N, G * H], [G * H, V], 1]],
    outputLayer: [[[N, H], [H, V], 1], [[N, V], [V, H], 1], [[H, N], [N, V], 1]],
  } as Record<string, [number[], number[], number][]>;
  if (kind === "gru") {
    return {
      recurrentForward: [[[B, H], [H, 2 * H], T], [[B, H], [H, H], T]],
      recurrentBackward: [[[B, H], [H, H], T], [[B, 2 * H], [2 * H, H], T]],
      weightGrads: [[[2 * H, N], [N, A], 1], [[H, N], [N, A], 1]],
      ...common,
    };
  }
  return {
    recurrentForward: [[[B, H], [H, G * H], T]],
    recurrentBackward: [[[B, G * H], [G * H, H], T]],
    weightGrads: [[[G * H, N], [N, A], 1]],
    ...common,
  };
}

/**
 * Times the parts of one project training step on random data of the d2l
 * shapes: sequence forward, output layer (forward + backward), clipping + SGD,
 * the weight-gradient matmul, and the bare matmuls of a step (the matmul-bound
 * limit). The sequence backward is the full step minus the other parts.
 * Synchronous backends only (wasm, cpu): webgpu timings would need a read-back.
 */
export function profileProject(kind: CellKind, V: number, backend: string, json: boolean): void {
  const T = NUM_STEPS, B = BATCH, H = HIDDEN, G = GATE_COUNT[kind], N = T * B;
  const rng = new Rng(3);
  const Wx = init([V, G * H], rng), Wh = init([H, G * H], rng), b = tf.variable(tf.zeros([G * H]));
  const Wq = init([H, V], rng), bq = tf.variable(tf.zeros([V]));
  const params = [Wx, Wh, b, Wq, bq];
  const optimizer = tf.train.sgd(0); // lr 0: the weights stay put between repetitions
  const spec = { kind, inputSize: V, hiddenSize: H };
  const targets = Int32Array.from({ length: N }, () => Math.floor(rng.next() * V));
  const idx = tf.tensor2d(targets, [T, B], "int32");
  const xs = tf.oneHot(idx, V).toFloat() as tf.Tensor3D;
  const h = tf.zeros([B, H]) as tf.Tensor2D, c = tf.zeros([B, H]) as tf.Tensor2D;
  const w = { Wx, Wh, b } as never;
  const loss = () => {
    const r = fusedSequence(spec, w, xs, { h, c });
    const logits = linear(tf.reshape(r.outputs, [N, H]), Wq as tf.Tensor2D, bq as tf.Tensor1D);
    return crossEntropy(logits, targets); // the LM's own loss: fused where the backend has it
  };
  const outs = tf.randomNormal([N, H]) as tf.Tensor2D;
  const grads = tf.variableGrads(loss, params).grads;
  const parts: Record<string, number> = {
    step: timeIt(() => trainStep(params, optimizer, loss).dispose()),
    sequenceForward: timeIt(() => {
      fusedSequence(spec, w, xs, { h, c });
    }),
    outputLayer: timeIt(() => {
      tf.grads((o: tf.Tensor, q: tf.Tensor, qb: tf.Tensor) =>
        crossEntropy(linear(o as tf.Tensor2D, q as tf.Tensor2D, qb as tf.Tensor1D), targets)
      )([outs, Wq, bq]);
    }),
    clipAndSgd: timeIt(() => clipAndApply(grads, optimizer)),
  };
  // The matmuls of one step, bare: same shapes and counts as the kernels in lib/kernels, each
  // right operand new once per step (as the weights are after an update: tfjs-wasm packs it).
  const mm: Record<string, number> = {};
  for (const [part, list] of Object.entries(stepMatmuls(kind, V))) {
    const operands = list.map(([a, b, count]) =>
      [tf.randomNormal(a), tf.randomNormal(b), count] as const
    );
    mm[part] = timeIt(() => {
      for (const [x, w, count] of operands) {
        const fresh = tf.add(w, 0); // a new tensor: packed again, as after a weight update
        for (let t = 0; t < count; t++) tf.matMul(x, fresh);
      }
    });
    tf.dispose(operands.flatMap(([x, w]) => [x, w]));
  }
  parts.weightGradMatmul = mm.weightGrads;
  const matmulLimit = Object.values(mm).reduce((a, x) => a + x, 0);
  parts.sequenceBackward = parts.step - parts.sequenceForward - parts.outputLayer -
    parts.clipAndSgd;
  const row = {
    event: "profile",
    impl: "project",
    cell: kind,
    backend,
    ms: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, Number(v.toFixed(2))])),
    matmulMs: Object.fromEntries(Object.entries(mm).map(([k, v]) => [k, Number(v.toFixed(2))])),
    matmulLimitMs: Number(matmulLimit.toFixed(2)),
    fractionOfMatmulLimit: Number((matmulLimit / parts.step).toFixed(3)),
    tokensPerSecAtLimit: Math.round(N / matmulLimit * 1000),
  };
  if (json) console.log(JSON.stringify(row));
  else {
    console.error(
      `profile ${kind}: step ${parts.step.toFixed(1)} ms = sequence forward ${
        parts.sequenceForward.toFixed(1)
      }` +
        ` + sequence backward ${parts.sequenceBackward.toFixed(1)} (weight-gradient matmul ${
          parts.weightGradMatmul.toFixed(1)
        })` +
        ` + output layer ${parts.outputLayer.toFixed(1)} + clip/SGD ${parts.clipAndSgd.toFixed(1)}`,
    );
    console.error(
      `profile ${kind}: bare matmuls ${matmulLimit.toFixed(1)} ms (` +
        Object.entries(mm).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ") +
        `): ${
          (100 * matmulLimit / parts.step).toFixed(0)
        }% of the step; limit ${row.tokensPerSecAtLimit} tokens/s`,
    );
  }
  tf.dispose([...params, idx, xs, h, c, outs]);
  tf.dispose(grads);
  optimizer.dispose();
}
