import { ok } from "node:assert";
import { tf, useBackend } from "../../lib/tf.ts";
import { Rng } from "../../lib/rng.ts";
import { buildPairVocabs, tokenizePairs } from "../../lib/supervised/pairs.ts";
import { encodePairs, pairBatches } from "../../lib/seq2seq/data.ts";
import { Seq2Seq } from "../../lib/seq2seq/model.ts";
import { seq2seqConfig } from "../../lib/seq2seq/config.ts";
import { translateIds } from "../../lib/seq2seq/decode.ts";
import { exactMatch } from "../../lib/seq2seq/bleu.ts";
import { makeOptimizer, trainStep } from "../../lib/training/train.ts";

/** Strings of 2-5 letters from "abcdef" and their reversals, from a seed. */
function reversals(rng: Rng, n: number) {
  return Array.from({ length: n }, () => {
    const s = Array.from({ length: 2 + rng.int(4) }, () => "abcdef"[rng.int(6)]).join("");
    return { source: s, target: [...s].reverse().join("") };
  });
}

Deno.test("a small attention model learns to reverse strings (>= 90% exact match)", async () => {
  await useBackend("wasm");
  try {
    const rng = new Rng(1);
    const train = tokenizePairs(reversals(rng, 1000), "char");
    const valid = tokenizePairs(reversals(rng, 200), "char");
    const vocabs = buildPairVocabs(train, { token: "char", minFreq: 1 });
    const [trainIds, validIds] = [encodePairs(train, vocabs), encodePairs(valid, vocabs)];
    const model = new Seq2Seq(seq2seqConfig({
      sourceVocabSize: vocabs.source.size,
      targetVocabSize: vocabs.target.size,
      embeddingSize: 16,
      hiddenSize: 32,
      layers: 1,
      dropout: 0,
      attention: "additive",
    }));
    const optimizer = makeOptimizer("adam", 0.01);
    const start = tf.memory().numTensors;
    let after = 0;
    for (let epoch = 0; epoch < 10; epoch++) {
      for (const batch of pairBatches(trainIds, { batchSize: 32, rng })) {
        const { loss, gradNorm } = trainStep(model, optimizer, batch, undefined, { clip: 1 });
        tf.dispose([loss, gradNorm]);
      }
      if (epoch === 0) after = tf.memory().numTensors; // optimizer slots now exist
    }
    ok(tf.memory().numTensors === after, "tensors stay flat across training steps");
    const hyps = await translateIds(model, validIds.map((p) => p.source));
    const em = exactMatch(
      hyps.map((h) => h[0].ids.map((id) => vocabs.target.tokenOf(id))),
      valid.map((p) => p.target),
    );
    ok(em >= 0.9, `exact match ${em}`);
    ok(tf.memory().numTensors === after);
    model.dispose();
    optimizer.dispose();
    ok(tf.memory().numTensors <= start);
  } finally {
    await useBackend("cpu");
  }
});
