import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { Rng } from "../../lib/rng.ts";
import { UsageError } from "../../lib/errors.ts";
import { makeOptimizer, trainStep } from "../../lib/training/train.ts";
import {
  encodeLabelled,
  labelledBatch,
  labelledVocab,
  stratifiedSplit,
} from "../../lib/supervised/labelled.ts";
import {
  balancedClassWeights,
  classifierConfig,
  SequenceClassifier,
} from "../../lib/classify/model.ts";
import { classifierBatches } from "../../lib/classify/data.ts";
import { evaluateClassifier } from "../../lib/classify/evaluate.ts";

/**
 * Two grammars over {a, b, c}, lengths 3..14: label 0 never repeats a letter
 * twice in a row ("abcbca"), label 1 is made of doubled letters ("aaccbb",
 * cut to an odd length sometimes). Both start with any letter.
 */
function twoGrammars(n: number, rng: Rng): { text: string; label: number }[] {
  const letters = "abc";
  const out: { text: string; label: number }[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const length = 3 + rng.int(12);
    let text = "";
    while (text.length < length) {
      if (label === 0) {
        let c = letters[rng.int(3)];
        while (c === text.at(-1)) c = letters[rng.int(3)];
        text += c;
      } else text += letters[rng.int(3)].repeat(2);
    }
    out.push({ text: text.slice(0, length), label });
  }
  return out;
}

Deno.test("a classifier learns two generated grammars to >= 95% on held-out strings", async () => {
  const examples = twoGrammars(400, new Rng(11));
  const { split } = stratifiedSplit(examples.map((e) => e.label), { seed: 0, testFraction: 0.25 });
  const vocab = labelledVocab(split.train.map((i) => examples[i].text));
  const seqs = examples.map((e) => encodeLabelled(vocab, e.text));
  const labels = examples.map((e) => e.label);
  const model = new SequenceClassifier(classifierConfig({
    vocabSize: vocab.size,
    numLabels: 2,
    embeddingSize: 8,
    hiddenSize: 16,
    seed: 3,
  }));
  const optimizer = makeOptimizer("adam", 0.02);
  const rng = new Rng(1);
  const before = (await evaluateClassifier(
    model,
    classifierBatches(seqs, labels, split.test, { batchSize: 64 }),
  )).accuracy;
  let tensors = -1;
  for (let epoch = 0; epoch < 12; epoch++) {
    for (const batch of classifierBatches(seqs, labels, split.train, { batchSize: 16, rng })) {
      const { loss, gradNorm } = trainStep(model, optimizer, batch, undefined, { clip: 1 });
      tf.dispose([loss, gradNorm]);
    }
    // Flat across epochs once the optimizer's slots exist.
    if (epoch === 1) tensors = tf.memory().numTensors;
    if (epoch > 1) strictEqual(tf.memory().numTensors, tensors);
  }
  const scores = await evaluateClassifier(
    model,
    classifierBatches(seqs, labels, split.test, { batchSize: 64 }),
  );
  ok(before < 0.8, `untrained accuracy ${before} is already high: the test could not fail`);
  ok(scores.accuracy >= 0.95, `test accuracy ${scores.accuracy}`);
  strictEqual(scores.examples, split.test.length);
  optimizer.dispose();
  model.dispose();
});

for (
  const [head, bidirectional, cell] of [["last", false, "gru"], ["last", true, "lstm"], [
    "mean",
    true,
    "rnn",
  ], ["max", false, "lstm"]] as const
) {
  Deno.test(`padding never changes a prediction (${head} head, ${bidirectional ? "bi" : "uni"}directional ${cell})`, async () => {
    const model = new SequenceClassifier(classifierConfig({
      vocabSize: 9,
      numLabels: 3,
      hiddenSize: 5,
      embeddingSize: 4,
      layers: 2,
      cell,
      head,
      bidirectional,
      seed: 7,
    }));
    const name = Int32Array.of(4, 7, 5);
    const alone = model.probabilities(labelledBatch([name], [0], 1));
    const padded = model.probabilities(
      labelledBatch([Int32Array.of(8, 8, 4, 6, 5, 7, 4), name, Int32Array.of(6)], [0, 0, 0], 1),
    );
    const a = await alone.data(), p = await padded.data();
    for (let k = 0; k < 3; k++) {
      ok(Math.abs(a[k] - p[3 + k]) < 1e-5, `label ${k}: ${a[k]} vs ${p[3 + k]}`);
    }
    // And the padding id itself does not matter: pad with another id, same answer.
    const other = labelledBatch([Int32Array.of(8, 8, 4, 6, 5, 7, 4), name], [0, 0], 1);
    other.ids.forEach((id, i) => {
      if (id === 1) other.ids[i] = 6;
    });
    const q = await model.probabilities(other).data();
    for (let k = 0; k < 3; k++) ok(Math.abs(a[k] - q[3 + k]) < 1e-5);
    tf.dispose([alone, padded]);
    model.dispose();
  });
}

Deno.test("class weights weigh the loss per label (PyTorch's weighted mean)", async () => {
  const weights = [0.5, 3];
  const model = new SequenceClassifier(
    classifierConfig({ vocabSize: 6, numLabels: 2, hiddenSize: 3, classWeights: weights }),
  );
  const plain = new SequenceClassifier(
    classifierConfig({ vocabSize: 6, numLabels: 2, hiddenSize: 3 }),
  );
  const batch = labelledBatch([Int32Array.of(4, 5), Int32Array.of(5)], [0, 1], 1);
  const logp = await tf.logSoftmax(plain.logits(batch)).array() as number[][];
  const expected = -(0.5 * logp[0][0] + 3 * logp[1][1]) / 3.5;
  const { loss, count } = model.loss(batch, { training: false });
  ok(Math.abs((await loss.data())[0] - expected) < 1e-5);
  strictEqual(count, 2);
  deepStrictEqual(balancedClassWeights([0, 0, 0, 1], 2), [4 / 6, 2]);
  throws(() => classifierConfig({ vocabSize: 6, numLabels: 2, classWeights: [1] }), UsageError);
  throws(
    () => classifierConfig({ vocabSize: 6, numLabels: 2, head: "first" as never }),
    /head is "first"/,
  );
  model.dispose();
  plain.dispose();
});

Deno.test("named weights round-trip and a wrong record is refused before anything changes", () => {
  const config = classifierConfig({
    vocabSize: 6,
    numLabels: 3,
    hiddenSize: 4,
    bidirectional: true,
  });
  const a = new SequenceClassifier(config);
  const b = new SequenceClassifier({ ...config, seed: 9 });
  const named = a.namedWeights();
  b.setNamedWeights(named);
  const again = b.namedWeights();
  for (const key of Object.keys(named)) {
    deepStrictEqual(again[key].dataSync(), named[key].dataSync());
  }
  const { "out/b": _, ...missing } = named;
  throws(() => b.setNamedWeights(missing), /missing key "out\/b"/);
  throws(() => b.setNamedWeights({ ...named, extra: named["out/b"] }), /unexpected key "extra"/);
  tf.dispose([...Object.values(named), ...Object.values(again)]);
  a.dispose();
  b.dispose();
});
