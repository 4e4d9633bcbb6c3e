import { tf } from "../../lib/tf.ts";
import { LanguageModel, modelConfig } from "../../lib/lm/model.ts";
import type { CellKind, Nonlinearity } from "../../lib/cells/types.ts";
import { lmGraph } from "../../lib/export/_onnx_lm.ts";
import { encodeOnnxModel } from "../../lib/export/onnx_proto.ts";
import { assertClose, type Feed, randomize, runOnnx, stacked } from "./_ort.ts";

await tf.setBackend("cpu");

const CASES: {
  cell: CellKind;
  nonlinearity?: Nonlinearity;
  resetAfter?: boolean;
  layers: number;
  bidirectional: boolean;
  embeddingSize: number;
}[] = [
  { cell: "rnn", nonlinearity: "tanh", layers: 2, bidirectional: false, embeddingSize: 0 },
  { cell: "rnn", nonlinearity: "relu", layers: 2, bidirectional: true, embeddingSize: 3 },
  { cell: "gru", resetAfter: false, layers: 2, bidirectional: true, embeddingSize: 0 },
  { cell: "gru", resetAfter: true, layers: 2, bidirectional: true, embeddingSize: 3 },
  { cell: "lstm", layers: 2, bidirectional: true, embeddingSize: 0 },
  { cell: "lstm", layers: 1, bidirectional: false, embeddingSize: 3 },
];

for (const c of CASES) {
  const name = `${c.cell}${c.nonlinearity ? ` ${c.nonlinearity}` : ""}${
    c.resetAfter === undefined ? "" : c.resetAfter ? " reset-after" : " reset-before"
  }, ${c.layers} layers, bidirectional ${c.bidirectional}, embedding ${c.embeddingSize}`;
  Deno.test(`LM ONNX (${name}) matches our logits and states to 1e-5, streamed in two chunks`, async () => {
    const model = new LanguageModel(modelConfig({ vocabSize: 7, hiddenSize: 4, ...c }));
    randomize(model.trainableVariables, 11);
    const bytes = encodeOnnxModel(lmGraph(model, {}));
    const B = 3, T = 4, H = 4, N = c.layers * (c.bidirectional ? 2 : 1);
    const x1 = Int32Array.from({ length: B * T }, (_, i) => (i * 5 + 2) % 7);
    const x2 = Int32Array.from({ length: B * T }, (_, i) => (i * 3 + 1) % 7);
    const first = model.forward({ x: x1, batchSize: B, numSteps: T });
    const second = model.forward({ x: x2, batchSize: B, numSteps: T }, { state: first.state });
    const empty: Feed = { float: [], dims: [N, 0, H] };
    const feeds = (x: Int32Array, h0 = empty, c0 = empty) => ({
      ids: { int64: Array.from(x), dims: [B, T] },
      h0,
      ...(c.cell === "lstm" ? { c0 } : {}),
    });
    const out1 = await runOnnx(bytes, feeds(x1));
    const out2 = await runOnnx(
      bytes,
      feeds(
        x2,
        { float: out1.hn.data, dims: [N, B, H] },
        out1.cn ? { float: out1.cn.data, dims: [N, B, H] } : empty,
      ),
    );
    for (
      const [ours, theirs, label] of [[first, out1, "chunk 1"], [second, out2, "chunk 2"]] as const
    ) {
      // Ours: [T*B, V] time-major; ONNX: [B, T, V].
      const logits = tf.tidy(() =>
        tf.transpose(tf.reshape(ours.logits, [T, B, 7]), [1, 0, 2]).dataSync()
      );
      assertClose(theirs.logits.data, logits, 1e-5, `${label} logits`);
      assertClose(theirs.hn.data, stacked(ours.state, "h"), 1e-5, `${label} hn`);
      if (c.cell === "lstm") {
        assertClose(theirs.cn.data, stacked(ours.state, "c"), 1e-5, `${label} cn`);
      }
    }
    tf.dispose([
      first.logits,
      second.logits,
      ...[...first.state, ...second.state].flatMap((s) => Object.values(s)),
    ]);
    model.dispose();
  });
}
