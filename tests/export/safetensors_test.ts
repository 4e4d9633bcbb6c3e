import { deepStrictEqual, throws } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { UsageError } from "../../lib/errors.ts";
import { LanguageModel, type ModelConfig, modelConfig } from "../../lib/lm/model.ts";
import { classifierConfig, SequenceClassifier } from "../../lib/classify/model.ts";
import { labelledBatch } from "../../lib/supervised/labelled.ts";
import { decodeSafetensors, encodeSafetensors } from "../../lib/export/safetensors.ts";
import { loadTorchStateDictInto, torchStateDictOf } from "../../lib/export/state_dict.ts";
import { randomize } from "./_ort.ts";

await tf.setBackend("cpu");

const LM_CASES: Partial<ModelConfig>[] = [
  { cell: "rnn", nonlinearity: "relu", layers: 2, bidirectional: true, embeddingSize: 3 },
  { cell: "gru", resetAfter: false, layers: 2, bidirectional: true },
  { cell: "gru", resetAfter: true, layers: 2, embeddingSize: 3 },
  { cell: "lstm", layers: 2, bidirectional: true, embeddingSize: 3 },
];

for (const c of LM_CASES) {
  Deno.test(`safetensors round trip of an LM (${JSON.stringify(c)}) gives the same logits`, () => {
    const config = modelConfig({ vocabSize: 6, cell: "lstm", hiddenSize: 4, ...c });
    const a = new LanguageModel(config), b = new LanguageModel({ ...config, seed: 9 });
    randomize(a.trainableVariables, 4);
    const bytes = encodeSafetensors(torchStateDictOf(a), { kind: "lm" });
    loadTorchStateDictInto(b, decodeSafetensors(bytes).tensors);
    const batch = { x: Int32Array.of(0, 1, 2, 3, 4, 5), batchSize: 2, numSteps: 3 };
    const [ra, rb] = [a.forward(batch), b.forward(batch)];
    deepStrictEqual(rb.logits.dataSync(), ra.logits.dataSync());
    tf.dispose([
      ra.logits,
      rb.logits,
      ...[...ra.state, ...rb.state].flatMap((s) => Object.values(s)),
    ]);
    a.dispose();
    b.dispose();
  });
}

Deno.test("safetensors round trip of a bidirectional 2-layer classifier gives the same probabilities", () => {
  const config = classifierConfig({
    vocabSize: 8,
    numLabels: 3,
    hiddenSize: 4,
    layers: 2,
    bidirectional: true,
  });
  const a = new SequenceClassifier(config), b = new SequenceClassifier({ ...config, seed: 3 });
  randomize(a.trainableVariables, 4);
  loadTorchStateDictInto(b, decodeSafetensors(encodeSafetensors(torchStateDictOf(a))).tensors);
  const batch = labelledBatch([Int32Array.of(4, 5, 6), Int32Array.of(7)], [0, 2], 1);
  const [pa, pb] = [a.probabilities(batch), b.probabilities(batch)];
  deepStrictEqual(pb.dataSync(), pa.dataSync());
  tf.dispose([pa, pb]);
  a.dispose();
  b.dispose();
});

Deno.test("loadTorchStateDictInto() refuses a missing key, a wrong shape, and nn.GRU weights in a reset-before GRU", () => {
  const config = modelConfig({ vocabSize: 6, cell: "gru", hiddenSize: 4, resetAfter: true });
  const after = new LanguageModel(config);
  const before = new LanguageModel({ ...config, resetAfter: false });
  randomize(after.trainableVariables, 1);
  const sd = torchStateDictOf(after);
  const { "out.bias": _, ...missing } = sd;
  throws(() => loadTorchStateDictInto(after, missing), /missing key "out.bias"/);
  throws(
    () =>
      loadTorchStateDictInto(after, {
        ...sd,
        "out.bias": { shape: [5], data: new Float32Array(5) },
      }),
    /"out.bias" has shape \[5\], expected \[6\]/,
  );
  throws(
    () => loadTorchStateDictInto(before, sd),
    (e) => e instanceof UsageError && /reset-before/.test(e.message),
  );
  after.dispose();
  before.dispose();
});

Deno.test("decodeSafetensors() names what is wrong with a bad file", () => {
  throws(() => decodeSafetensors(new Uint8Array(3)), /at least 8/);
  const bytes = encodeSafetensors({ w: { shape: [2], data: Float32Array.of(1, 2) } });
  throws(() => decodeSafetensors(bytes.subarray(0, bytes.length - 4)), /"w" has bytes 0..8/);
});
