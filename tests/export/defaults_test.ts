/**
 * The two GRU variants map to ONNX's `linear_before_reset` (0 for d2l's
 * reset-before, 1 for PyTorch's reset-after), shown by flipping it; and the
 * default models of every kind export in under 5 s.
 */
import { ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { LanguageModel, modelConfig } from "../../lib/lm/model.ts";
import { lmGraph } from "../../lib/export/_onnx_lm.ts";
import { encodeOnnxModel, type OnnxModel } from "../../lib/export/onnx_proto.ts";
import { exportCheckpoint } from "../../lib/export/export.ts";
import { randomize, runOnnx, withTempDir } from "./_ort.ts";
import { classifierRun, generatorRun, lmRun, seq2seqRun } from "./_checkpoints.ts";

await tf.setBackend("cpu");

/** Largest |ONNX logit - ours| of a GRU LM, with the graph's linear_before_reset forced to `flag`. */
async function gruError(resetAfter: boolean, flag: number): Promise<number> {
  const model = new LanguageModel(
    modelConfig({ vocabSize: 5, cell: "gru", hiddenSize: 4, embeddingSize: 3, resetAfter }),
  );
  randomize(model.trainableVariables, 8);
  const graph: OnnxModel = lmGraph(model, {});
  const gru = graph.nodes.find((n) => n.opType === "GRU")!;
  gru.attributes!.linear_before_reset = flag;
  const B = 2, T = 5;
  const x = Int32Array.from({ length: B * T }, (_, i) => (i * 3 + 1) % 5);
  const ours = model.forward({ x, batchSize: B, numSteps: T });
  const expected = tf.tidy(() =>
    tf.transpose(tf.reshape(ours.logits, [T, B, 5]), [1, 0, 2]).dataSync()
  );
  const out = await runOnnx(encodeOnnxModel(graph), {
    ids: { int64: Array.from(x), dims: [B, T] },
    h0: { float: [], dims: [1, 0, 4] },
  });
  tf.dispose([ours.logits, ...ours.state.map((s) => s.h)]);
  model.dispose();
  return out.logits.data.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i])), 0);
}

Deno.test("d2l's reset-before GRU is ONNX linear_before_reset=0 and PyTorch's reset-after is 1: the other value is wrong", async () => {
  const right = [await gruError(false, 0), await gruError(true, 1)];
  const wrong = [await gruError(false, 1), await gruError(true, 0)];
  ok(right.every((e) => e < 1e-5), `right flags: ${right}`);
  ok(wrong.every((e) => e > 1e-3), `flipped flags still match: ${wrong}`);
});

Deno.test("the default model of every kind exports to ONNX (and safetensors) in under 5 s", async () => {
  await withTempDir(async (dir) => {
    // Defaults of the scripts: train (lstm 256, one-hot d2l vocab), classify and generate
    // (gru 128, embedding 32), translate (gru 256, 2 layers; a large word vocabulary).
    await lmRun(`${dir}/lm`, { cell: "lstm", hiddenSize: 256 });
    await classifierRun(`${dir}/classifier`);
    await generatorRun(`${dir}/generator`);
    await seq2seqRun(`${dir}/seq2seq`, {}, { source: 5000, target: 8000 });
    const times: string[] = [];
    for (
      const [kind, format] of [
        ["lm", "onnx"],
        ["lm", "safetensors"],
        ["classifier", "onnx"],
        ["classifier", "safetensors"],
        ["generator", "onnx"],
        ["seq2seq", "onnx"],
      ] as const
    ) {
      const result = await exportCheckpoint({
        checkpoint: `${dir}/${kind}`,
        format,
        out: `${dir}/${kind}.${format}`,
      });
      times.push(`${kind} ${format} ${result.seconds.toFixed(3)} s ${result.bytes} bytes`);
      ok(result.seconds < 5, times[times.length - 1]);
    }
    console.log(times.join("\n"));
  });
});
