import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { UsageError } from "../../lib/errors.ts";
import { type AttentionKind, seq2seqConfig } from "../../lib/seq2seq/config.ts";
import { makePairBatch, pairBatches } from "../../lib/seq2seq/data.ts";
import { disposeMemory, Seq2Seq } from "../../lib/seq2seq/model.ts";
import { translateIds } from "../../lib/seq2seq/decode.ts";
import { BOS_ID } from "../../lib/supervised/pairs.ts";
import { Rng } from "../../lib/rng.ts";

const V = 11;
function small(attention: AttentionKind, extra: Record<string, unknown> = {}): Seq2Seq {
  return new Seq2Seq(seq2seqConfig({
    sourceVocabSize: V,
    targetVocabSize: V + 2,
    embeddingSize: 5,
    hiddenSize: 6,
    layers: 2,
    dropout: 0,
    attention,
    seed: 3,
    ...extra,
  }));
}
const ids = (...xs: number[]) => Int32Array.from(xs);

for (const attention of ["none", "additive", "dot"] as const) {
  for (const cell of ["gru", "lstm"] as const) {
    Deno.test(`${attention}/${cell}: padding in the source never changes a step's logits`, async () => {
      const model = small(attention, { cell, bidirectional: cell === "lstm" });
      const short = ids(4, 5), long = ids(6, 7, 8, 9, 10, 4);
      const step = async (sources: Int32Array[]) => {
        const batch = makePairBatch(sources.map((source) => ({ source, target: ids() })));
        const { memory, state } = model.encode(batch.source, batch.sourceLengths);
        const prev = tf.tensor1d(new Int32Array(sources.length).fill(BOS_ID), "int32");
        const out = model.decodeStep(memory, prev, state);
        const logits = await out.logits.array();
        const weights = out.weights ? await out.weights.array() : undefined;
        tf.dispose([
          prev,
          out.logits,
          out.weights ?? [],
          ...out.state.flatMap((s) => Object.values(s)),
          ...state.flatMap((s) => Object.values(s)),
        ]);
        disposeMemory(memory);
        return { logits, weights };
      };
      const alone = await step([short]);
      const padded = await step([short, long]); // short is padded to 7 steps here
      alone.logits[0].forEach((v, j) => ok(Math.abs(v - padded.logits[0][j]) < 1e-5));
      if (padded.weights) {
        const w = padded.weights[0];
        deepStrictEqual(w.slice(3), [0, 0, 0, 0]); // 2 tokens + <eos> are real
        ok(Math.abs(w.slice(0, 3).reduce((a, b) => a + b) - 1) < 1e-6);
        ok(Math.abs(padded.weights[1].reduce((a, b) => a + b) - 1) < 1e-6);
      }
      // Whole translations too.
      const a = await translateIds(model, [short], { maxLengthExtra: 4 });
      const b = await translateIds(model, [short, long], { maxLengthExtra: 4, batchSize: 2 });
      deepStrictEqual(a[0][0].ids, b[0][0].ids);
      model.dispose();
    });
  }
}

Deno.test("beam search with beam 1 gives greedy decoding's translations and scores", async () => {
  for (const attention of ["none", "additive"] as const) {
    const model = small(attention);
    const rng = new Rng(5);
    const sources = Array.from(
      { length: 9 },
      () => Int32Array.from({ length: 1 + rng.int(6) }, () => 4 + rng.int(V - 4)),
    );
    const greedy = await translateIds(model, sources, { lengthPenalty: 0, maxLengthExtra: 5 });
    const beam = await translateIds(model, sources, {
      method: "beam",
      lengthPenalty: 0,
      maxLengthExtra: 5,
    });
    deepStrictEqual(beam.map((h) => h[0].ids), greedy.map((h) => h[0].ids));
    beam.forEach((h, i) => ok(Math.abs(h[0].score - greedy[i][0].score) < 1e-4));
    model.dispose();
  }
});

Deno.test("beam search: n-best sorted, never below greedy's log-probability without penalty, tensors freed", async () => {
  const model = small("additive");
  const sources = [ids(4, 5, 6), ids(7), ids(8, 9, 10, 4, 5)];
  const greedy = await translateIds(model, sources, { lengthPenalty: 0, maxLengthExtra: 6 });
  const before = tf.memory().numTensors;
  const beam = await translateIds(model, sources, {
    beam: 4,
    nBest: 3,
    lengthPenalty: 0,
    maxLengthExtra: 6,
    attention: true,
  });
  strictEqual(tf.memory().numTensors, before);
  for (let i = 0; i < sources.length; i++) {
    ok(beam[i].length >= 1 && beam[i].length <= 3);
    for (let k = 1; k < beam[i].length; k++) ok(beam[i][k - 1].normalized >= beam[i][k].normalized);
    ok(beam[i][0].score >= greedy[i][0].score - 1e-4);
    // one weight row per output token (<eos> included when it ended), over the real source
    const w = beam[i][0].weights!;
    ok(w.length === beam[i][0].ids.length || w.length === beam[i][0].ids.length + 1);
    w.forEach((row) => strictEqual(row.length, sources[i].length + 1));
  }
  const again = await translateIds(model, sources, { maxLengthExtra: 6, attention: true });
  strictEqual(tf.memory().numTensors, before);
  ok(again[0][0].weights!.length >= 1);
  model.dispose();
});

Deno.test("translateIds refuses beam 0 and n-best above the beam", async () => {
  const model = small("none");
  for (const options of [{ beam: 0 }, { beam: 2, nBest: 3 }, { beam: 1.5 }]) {
    try {
      await translateIds(model, [ids(4)], options);
      ok(false, "expected a UsageError");
    } catch (e) {
      ok(e instanceof UsageError && /Cannot translate/.test(e.message));
    }
  }
  model.dispose();
});

Deno.test("the loss is the mean cross-entropy over real target tokens only", async () => {
  const model = small("additive");
  const batch = makePairBatch([
    { source: ids(4, 5), target: ids(6, 7, 8) },
    { source: ids(9), target: ids(10) },
  ]);
  const logits = await model.forward(batch).array(); // [T, B, V]
  let sum = 0, count = 0;
  for (let b = 0; b < 2; b++) {
    for (let t = 0; t < batch.targetLengths[b]; t++) {
      const row = logits[t][b], label = batch.targetOutput[b * batch.targetSteps + t];
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
      sum += lse - row[label];
      count++;
    }
  }
  const { loss, count: n } = model.loss(batch, { training: false });
  strictEqual(n, count);
  ok(Math.abs((await loss.data())[0] - sum / count) < 1e-5);
  // Changing a padded label changes nothing.
  const changed = { ...batch, targetOutput: batch.targetOutput.slice() };
  changed.targetOutput[1 * batch.targetSteps + 3] = 9; // past sentence 1's <eos>
  const again = model.loss(changed, { training: false });
  strictEqual((await again.loss.data())[0], (await loss.data())[0]);
  tf.dispose([loss, again.loss]);
  model.dispose();
});

Deno.test("namedWeights round-trips into a fresh model and a wrong key is refused", async () => {
  const a = small("additive"), b = small("additive", { seed: 9 });
  const named = a.namedWeights();
  ok("decoder/attention/W_q" in named && "encoder/rnn/l1/W_xz" in named);
  b.setNamedWeights(named);
  const batch = pairBatches([{ source: ids(4, 5), target: ids(6) }], { batchSize: 1 })[0];
  const [la, lb] = [
    a.loss(batch, { training: false }).loss,
    b.loss(batch, { training: false }).loss,
  ];
  strictEqual((await la.data())[0], (await lb.data())[0]);
  const wrong = { ...named, "decoder/extra": named["decoder/out/b"] };
  throws(() => b.setNamedWeights(wrong), /unexpected key "decoder\/extra"/);
  tf.dispose([la, lb, ...Object.values(named)]);
  a.dispose();
  b.dispose();
});
