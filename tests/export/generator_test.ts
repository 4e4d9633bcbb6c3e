import { tf } from "../../lib/tf.ts";
import { ConditionedGenerator, generatorConfig } from "../../lib/generate/model.ts";
import type { CellKind } from "../../lib/cells/types.ts";
import { generatorGraph } from "../../lib/export/_onnx_generator.ts";
import { encodeOnnxModel } from "../../lib/export/onnx_proto.ts";
import { assertClose, type Feed, randomize, runOnnx, stacked } from "./_ort.ts";

await tf.setBackend("cpu");

const CASES: { cell: CellKind; conditioning: "init" | "input" | "none"; layers: number }[] = [
  { cell: "gru", conditioning: "init", layers: 2 },
  { cell: "lstm", conditioning: "input", layers: 2 },
  { cell: "rnn", conditioning: "none", layers: 1 },
  { cell: "lstm", conditioning: "init", layers: 1 },
];

for (const c of CASES) {
  Deno.test(`generator ONNX step graph (${c.cell}, ${c.conditioning}, ${c.layers} layers) matches ours to 1e-5: a chunk from the start, then one step`, async () => {
    const model = new ConditionedGenerator(
      generatorConfig({
        vocabSize: 9,
        numConditions: 3,
        embeddingSize: 4,
        conditionSize: 3,
        hiddenSize: 5,
        ...c,
      }),
    );
    randomize(model.trainableVariables, 5);
    const bytes = encodeOnnxModel(generatorGraph(model, {}));
    const B = 3, T = 4, H = 5, L = c.layers;
    const conditions = Int32Array.of(2, 0, 1);
    const ids = Int32Array.from({ length: T * B }, (_, i) => (i * 4 + 2) % 9); // [T, B]
    const step = Int32Array.of(3, 7, 5); // [1, B]
    const ours1 = model.forward(tf.tensor2d(ids, [T, B], "int32"), conditions);
    const ours2 = model.forward(tf.tensor2d(step, [1, B], "int32"), conditions, {
      state: ours1.state,
    });
    const batchFirst = (x: Int32Array, steps: number) =>
      Array.from({ length: B * steps }, (_, i) => x[(i % steps) * B + Math.floor(i / steps)]);
    const empty: Feed = { float: [], dims: [L, 0, H] };
    const run = (x: number[], steps: number, h0: Feed, c0: Feed) =>
      runOnnx(bytes, {
        ids: { int64: x, dims: [B, steps] },
        conditions: { int64: Array.from(conditions), dims: [B] },
        h0,
        ...(c.cell === "lstm" ? { c0 } : {}),
      });
    const out1 = await run(batchFirst(ids, T), T, empty, empty);
    const state = (v?: { data: Float32Array }): Feed =>
      v ? { float: v.data, dims: [L, B, H] } : empty;
    const out2 = await run(Array.from(step), 1, state(out1.hn), state(out1.cn));
    for (const [ours, theirs, label] of [[ours1, out1, "chunk"], [ours2, out2, "step"]] as const) {
      const logits = tf.tidy(() => tf.transpose(ours.logits, [1, 0, 2]).dataSync()); // [B, T, V]
      assertClose(theirs.logits.data, logits, 1e-5, `${label} logits`);
      assertClose(theirs.hn.data, stacked(ours.state, "h"), 1e-5, `${label} hn`);
      if (c.cell === "lstm") {
        assertClose(theirs.cn.data, stacked(ours.state, "c"), 1e-5, `${label} cn`);
      }
    }
    model.dispose();
  });
}
