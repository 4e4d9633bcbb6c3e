import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { Rng } from "../../lib/rng.ts";
import { makeOptimizer, trainStep } from "../../lib/training/train.ts";
import { encodeLabelled, labelledVocab } from "../../lib/supervised/labelled.ts";
import { generatorBatch } from "../../lib/generate/data.ts";
import { ConditionedGenerator, CONDITIONINGS, generatorConfig } from "../../lib/generate/model.ts";
import { evaluateGenerator } from "../../lib/generate/evaluate.ts";
import { generatorBatches } from "../../lib/generate/data.ts";
import { sampleSequences } from "../../lib/generate/sample.ts";

/** Condition 0 writes "ab" repeated, condition 1 "ba" repeated; lengths 2..6. */
function corpus(n: number, rng: Rng) {
  return Array.from({ length: n }, (_, i) => {
    const condition = i % 2;
    const text = (condition === 0 ? "ab" : "ba").repeat(4).slice(0, 2 + rng.int(5));
    return { text, condition };
  });
}

for (const conditioning of ["init", "input"] as const) {
  Deno.test(`a generator conditioned by "${conditioning}" writes what its condition asks for`, async () => {
    const data = corpus(64, new Rng(3));
    const vocab = labelledVocab(data.map((d) => d.text));
    const seqs = data.map((d) => encodeLabelled(vocab, d.text));
    const conditions = data.map((d) => d.condition);
    const model = new ConditionedGenerator(generatorConfig({
      vocabSize: vocab.size,
      numConditions: 2,
      conditioning,
      embeddingSize: 8,
      conditionSize: 4,
      hiddenSize: 16,
      seed: 1,
    }));
    const optimizer = makeOptimizer("adam", 0.03);
    const rng = new Rng(2);
    for (let epoch = 0; epoch < 15; epoch++) {
      for (
        const batch of generatorBatches(seqs, conditions, [...seqs.keys()], { batchSize: 16, rng })
      ) {
        const { loss, gradNorm } = trainStep(model, optimizer, batch, undefined, { clip: 1 });
        tf.dispose([loss, gradNorm]);
      }
    }
    const a = await sampleSequences(model, vocab, 0, { count: 5, greedy: true, maxLength: 8 });
    const b = await sampleSequences(model, vocab, 1, { count: 5, seed: 4, topK: 1 });
    ok(a.every((s) => s.startsWith("ab")), `condition 0 gave ${a}`);
    ok(b.every((s) => s.startsWith("ba")), `condition 1 gave ${b}`);
    optimizer.dispose();
    model.dispose();
  });
}

Deno.test("the generator's loss over a padded batch is the mean of each sequence's alone", async () => {
  for (const conditioning of CONDITIONINGS) {
    const model = new ConditionedGenerator(generatorConfig({
      vocabSize: 9,
      numConditions: 3,
      conditioning,
      cell: "lstm",
      layers: 2,
      hiddenSize: 4,
      embeddingSize: 3,
      seed: 5,
    }));
    const seqs = [Int32Array.of(4, 5, 6, 7, 8), Int32Array.of(8, 4)];
    const together = await evaluateGenerator(model, [generatorBatch(seqs, [2, 0])]);
    const one = await evaluateGenerator(model, [generatorBatch([seqs[0]], [2])]);
    const two = await evaluateGenerator(model, [generatorBatch([seqs[1]], [0])]);
    strictEqual(together.tokens, 9);
    const mean = (one.loss * 6 + two.loss * 3) / 9;
    ok(Math.abs(together.loss - mean) < 1e-5, `${conditioning}: ${together.loss} vs ${mean}`);
    const { loss } = model.loss(generatorBatch(seqs, [2, 0]), { training: false });
    ok(Math.abs((await loss.data())[0] - together.loss) < 1e-5);
    loss.dispose();
    model.dispose();
  }
});

Deno.test("sampling is seeded, streams its tokens, and checks its arguments", async () => {
  const vocab = labelledVocab(["abcd"]);
  const model = new ConditionedGenerator(
    generatorConfig({ vocabSize: vocab.size, numConditions: 2, hiddenSize: 4 }),
  );
  const streamed: string[] = [];
  const a = await sampleSequences(model, vocab, 1, {
    count: 3,
    seed: 8,
    batchSize: 1,
    onToken: (i, t) => void (streamed[i] = (streamed[i] ?? "") + t),
  });
  deepStrictEqual(streamed, a);
  deepStrictEqual(await sampleSequences(model, vocab, 1, { count: 3, seed: 8, batchSize: 1 }), a);
  ok(a.every((s) => s.length >= 1 && s.length <= 20 && !/[<>]/.test(s)));
  await sampleSequences(model, vocab, 2).then(
    () => ok(false),
    (e) => ok(/condition is 2/.test(e.message)),
  );
  await sampleSequences(model, vocab, 0, { topP: 0 }).then(
    () => ok(false),
    (e) => ok(/topP/.test(e.message)),
  );
  throws(
    () => generatorConfig({ vocabSize: 5, numConditions: 2, conditioning: "both" as never }),
    /conditioning is "both"/,
  );
  model.dispose();
});

Deno.test("the generator's named weights round-trip; a record of another design is refused", () => {
  const config = generatorConfig({ vocabSize: 7, numConditions: 2, hiddenSize: 4, layers: 2 });
  const a = new ConditionedGenerator(config);
  const b = new ConditionedGenerator({ ...config, seed: 4 });
  const named = a.namedWeights();
  b.setNamedWeights(named);
  const again = b.namedWeights();
  for (const key of Object.keys(named)) {
    deepStrictEqual(again[key].dataSync(), named[key].dataSync());
  }
  const none = new ConditionedGenerator({ ...config, conditioning: "none" });
  throws(() => none.setNamedWeights(named), /unexpected key "condition"/);
  tf.dispose([...Object.values(named), ...Object.values(again)]);
  [a, b, none].forEach((m) => m.dispose());
});
