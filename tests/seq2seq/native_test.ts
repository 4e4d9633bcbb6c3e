/**
 * The encoder-decoder on the native backend (with attention, the whole decoder
 * as one op: lib/kernels/attention_decoder.ts) against the same model on cpu
 * (tf ops, a decoder step at a time): loss and every
 * weight gradient while training with dropout, the logits of a decode step,
 * and no tensor left behind across training steps.
 */
import { ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { type AttentionKind, seq2seqConfig } from "../../lib/seq2seq/config.ts";
import { makePairBatch } from "../../lib/seq2seq/data.ts";
import { disposeMemory, Seq2Seq } from "../../lib/seq2seq/model.ts";
import { makeOptimizer, trainStep } from "../../lib/training/train.ts";
import { assertClose, onBackend } from "../layers/_fd.ts";
import { NATIVE } from "../_native.ts";

const V = 11;
/** The cells the native decoder runs: each kind, and the GRU in both reset-gate variants. */
const CELLS = [
  { cell: "gru", resetAfter: false },
  { cell: "gru", resetAfter: true },
  { cell: "lstm", resetAfter: false },
  { cell: "rnn", resetAfter: false },
] as const;
type CellChoice = (typeof CELLS)[number];
const cellName = (c: CellChoice) => c.resetAfter ? `${c.cell} (reset after)` : c.cell;

function model(attention: AttentionKind, { cell, resetAfter }: CellChoice): Seq2Seq {
  return new Seq2Seq(seq2seqConfig({
    sourceVocabSize: V,
    targetVocabSize: V + 2,
    embeddingSize: 5,
    hiddenSize: 6,
    layers: 2,
    dropout: 0.3,
    attention,
    cell,
    resetAfter,
    seed: 3,
  }));
}
const ids = (...xs: number[]) => Int32Array.from(xs);
// Source lengths 3 (with <eos>), 2 and 1 ... and a full one: every mask case.
const BATCH = makePairBatch([
  { source: ids(4, 5), target: ids(6, 7, 8) },
  { source: ids(9), target: ids(10) },
  { source: ids(), target: ids(4, 5) },
  { source: ids(4, 6), target: ids(9) },
]);

/** Loss and gradients of one training-mode pass (dropout seeded), read back. */
async function lossAndGrads(m: Seq2Seq) {
  const { value, grads } = tf.variableGrads(
    () => m.loss(BATCH, { training: true, seed: 5 }).loss,
    m.trainableVariables,
  );
  const out = {
    loss: await value.data() as Float32Array,
    grads: await Promise.all(
      m.trainableVariables.map(async (v) => await grads[v.name].data() as Float32Array),
    ),
  };
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

/** The logits of one decode step from the encoded batch. */
async function stepLogits(m: Seq2Seq) {
  const { memory, state } = m.encode(BATCH.source, BATCH.sourceLengths);
  const previous = tf.tensor1d([1, 2, 3, 4], "int32");
  const r = m.decodeStep(memory, previous, state);
  const logits = await r.logits.data() as Float32Array;
  disposeMemory(memory);
  tf.dispose([
    previous,
    r.logits,
    r.weights ?? [],
    ...[...state, ...r.state].flatMap(Object.values),
  ]);
  return logits;
}

for (const backend of NATIVE) {
  for (const attention of ["none", "additive"] as const) {
    for (const cell of CELLS) {
      Deno.test(`seq2seq ${attention}/${cellName(cell)} on ${backend}: loss, gradients and a decode step match cpu`, async () => {
        const m = model(attention, cell);
        try {
          const cpu = await lossAndGrads(m), cpuLogits = await stepLogits(m);
          await onBackend(backend, async () => {
            const ours = await lossAndGrads(m);
            await assertClose(ours.loss, cpu.loss, 1e-5, "loss");
            for (const [i, v] of m.trainableVariables.entries()) {
              await assertClose(ours.grads[i], cpu.grads[i], 1e-4, `d ${v.name}`, 1e-7);
            }
            await assertClose(await stepLogits(m), cpuLogits, 1e-5, "logits", 1e-7);
          });
        } finally {
          m.dispose();
        }
      });
    }
  }

  Deno.test(`seq2seq additive on ${backend}: training steps leave no tensor behind`, async () => {
    await onBackend(backend, async () => {
      const m = model("additive", CELLS[0]), optimizer = makeOptimizer("adam", 0.01);
      const step = async () => {
        const r = trainStep(m, optimizer, BATCH, undefined, { clip: 1, seed: 1 });
        ok(Number.isFinite((await r.loss.data())[0]));
        tf.dispose([r.loss, r.gradNorm]);
      };
      await step();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) await step();
      ok(tf.memory().numTensors === before, `${before} -> ${tf.memory().numTensors} tensors`);
      m.dispose();
      optimizer.dispose();
    });
  });
}
