import { tf } from "../../lib/tf.ts";
import { disposeMemory, Seq2Seq } from "../../lib/seq2seq/model.ts";
import { seq2seqConfig } from "../../lib/seq2seq/config.ts";
import type { CellKind } from "../../lib/cells/types.ts";
import { decoderGraph, encoderGraph } from "../../lib/export/_onnx_seq2seq.ts";
import { encodeOnnxModel } from "../../lib/export/onnx_proto.ts";
import { assertClose, type Feed, randomize, runOnnx, stacked } from "./_ort.ts";

await tf.setBackend("cpu");

const CASES: {
  cell: CellKind;
  attention: "none" | "additive" | "dot";
  bidirectional: boolean;
  resetAfter?: boolean;
}[] = [
  { cell: "gru", attention: "additive", bidirectional: true },
  { cell: "lstm", attention: "dot", bidirectional: true },
  { cell: "gru", attention: "none", bidirectional: false, resetAfter: true },
  { cell: "rnn", attention: "additive", bidirectional: false },
  { cell: "lstm", attention: "none", bidirectional: true },
];

for (const c of CASES) {
  Deno.test(`seq2seq ONNX encoder + decoder step (${c.cell}, ${c.attention}, bidirectional ${c.bidirectional}) match ours to 1e-5 over a padded batch`, async () => {
    const model = new Seq2Seq(seq2seqConfig({
      sourceVocabSize: 8,
      targetVocabSize: 9,
      embeddingSize: 4,
      hiddenSize: 3,
      layers: 2,
      dropout: 0,
      ...c,
    }));
    randomize(model.trainableVariables, 3);
    const B = 3, S = 5, L = 2, Hd = model.decoderWidth;
    const lengths = Int32Array.of(2, 5, 1); // unsorted, with a length 1
    const source = Int32Array.from(
      { length: B * S },
      (_, i) => (i % S) < lengths[Math.floor(i / S)] ? (i * 3 + 4) % 8 : 1,
    );
    const { memory, state } = model.encode(source, lengths);
    const encoded = await runOnnx(encodeOnnxModel(encoderGraph(model, {})), {
      source: { int64: Array.from(source), dims: [B, S] },
      source_lengths: { int32: Array.from(lengths), dims: [B] },
    });
    assertClose(encoded.memory.data, memory.outputs.dataSync(), 1e-5, "memory");
    assertClose(encoded.h0.data, stacked(state, "h"), 1e-5, "h0");
    assertClose(encoded.context.data, memory.context.dataSync(), 1e-5, "context");
    if (c.cell === "lstm") assertClose(encoded.c0.data, stacked(state, "c"), 1e-5, "c0");
    const decoder = encodeOnnxModel(decoderGraph(model, {}));
    let ours = state;
    let h: Feed = { float: encoded.h0.data, dims: [L, B, Hd] };
    let cc: Feed = c.cell === "lstm" ? { float: encoded.c0.data, dims: [L, B, Hd] } : h;
    for (const tokens of [[2, 2, 2], [5, 0, 7]]) {
      const step = model.decodeStep(memory, tf.tensor1d(tokens, "int32"), ours);
      const out = await runOnnx(decoder, {
        token: { int64: tokens, dims: [B] },
        h,
        ...(c.cell === "lstm" ? { c: cc } : {}),
        ...(c.attention === "none" ? { context: { float: encoded.context.data, dims: [B, Hd] } } : {
          memory: { float: encoded.memory.data, dims: [B, S, Hd] },
          source_lengths: { int32: Array.from(lengths), dims: [B] },
        }),
      });
      assertClose(out.logits.data, step.logits.dataSync(), 1e-5, "logits");
      assertClose(out.hn.data, stacked(step.state, "h"), 1e-5, "hn");
      if (step.weights) assertClose(out.weights.data, step.weights.dataSync(), 1e-5, "weights");
      h = { float: out.hn.data, dims: [L, B, Hd] };
      if (c.cell === "lstm") cc = { float: out.cn.data, dims: [L, B, Hd] };
      ours = step.state;
    }
    disposeMemory(memory);
    model.dispose();
  });
}
