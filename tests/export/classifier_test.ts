import { tf } from "../../lib/tf.ts";
import { classifierConfig, SequenceClassifier } from "../../lib/classify/model.ts";
import { labelledBatch } from "../../lib/supervised/labelled.ts";
import type { CellKind } from "../../lib/cells/types.ts";
import { classifierGraph } from "../../lib/export/_onnx_classifier.ts";
import { encodeOnnxModel } from "../../lib/export/onnx_proto.ts";
import { assertClose, randomize, runOnnx, zeroRow } from "./_ort.ts";

await tf.setBackend("cpu");

// Unsorted lengths with a length-1 sequence; padding id 1 past each length.
const SEQUENCES = [[4, 5, 6], [7], [8, 9, 4, 5, 6], [5, 5]].map((s) => Int32Array.from(s));

const CASES: {
  cell: CellKind;
  layers: number;
  bidirectional: boolean;
  head: "last" | "mean" | "max";
}[] = [
  { cell: "rnn", layers: 2, bidirectional: true, head: "last" },
  { cell: "gru", layers: 2, bidirectional: true, head: "last" },
  { cell: "lstm", layers: 2, bidirectional: true, head: "last" },
  { cell: "gru", layers: 1, bidirectional: false, head: "mean" },
  { cell: "lstm", layers: 2, bidirectional: false, head: "max" },
];

for (const c of CASES) {
  Deno.test(`classifier ONNX (${c.cell}, ${c.layers} layers, bidirectional ${c.bidirectional}, ${c.head}) matches our probabilities to 1e-5 in onnxruntime`, async () => {
    const model = new SequenceClassifier(
      classifierConfig({ vocabSize: 10, numLabels: 3, embeddingSize: 5, hiddenSize: 4, ...c }),
    );
    randomize(model.trainableVariables, 7);
    zeroRow(model.embedding.table, model.config.padId);
    const batch = labelledBatch(SEQUENCES, [0, 1, 2, 0], model.config.padId);
    const probs = model.probabilities(batch);
    const expected = probs.dataSync();
    probs.dispose();
    const { batchSize: B, numSteps: T } = batch;
    const ids: number[] = [];
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) ids.push(batch.ids[t * B + b]);
    const out = await runOnnx(encodeOnnxModel(classifierGraph(model, {})), {
      ids: { int64: ids, dims: [B, T] },
      lengths: { int32: Array.from(batch.lengths), dims: [B] },
    });
    assertClose(out.probabilities.data, expected, 1e-5, "probabilities");
    model.dispose();
  });
}
