/**
 * The README's onnxruntime snippet ("Using a trained model elsewhere") runs
 * as written on an exported classifier, with the published URL of
 * lib/export/onnx_proto.ts pointed at this checkout, and prints the label
 * our own model gives.
 */
import { ok, strictEqual } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { exportCheckpoint } from "../../lib/export/export.ts";
import { loadForExport } from "../../lib/export/load.ts";
import { SequenceClassifier } from "../../lib/classify/model.ts";
import { labelledBatch } from "../../lib/supervised/labelled.ts";
import { classifierRun, LABELS } from "./_checkpoints.ts";
import { withTempDir } from "./_ort.ts";

await tf.setBackend("cpu");

const ROOT = new URL("../../", import.meta.url);
const PUBLISHED = "https://raw.githubusercontent.com/OWNER/rnn-deno/main/";

Deno.test("README's onnxruntime snippet classifies with metadata_props alone, as our model does", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const section = readme.split(/^## /m).find((s) =>
    s.startsWith("Using a trained model elsewhere")
  )!;
  const code = section.match(/```js\n([\s\S]*?)```/)![1];
  await withTempDir(async (dir) => {
    await classifierRun(`${dir}/run`, { bidirectional: true });
    await exportCheckpoint({
      checkpoint: `${dir}/run`,
      format: "onnx",
      out: `${dir}/classifier.onnx`,
    });
    await Deno.writeTextFile(`${dir}/snippet.js`, code.replaceAll(PUBLISHED, ROOT.href));
    const { code: exit, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-env", "--allow-sys", "snippet.js"],
      cwd: dir,
      env: { NO_COLOR: "1" },
    }).output();
    strictEqual(exit, 0, new TextDecoder().decode(stderr));
    const [label, probability] = new TextDecoder().decode(stdout).trim().split(" ");
    // Ours on the same text: "Nguyen" in the checkpoint's vocabulary (a-z: "N" is <unk>).
    const loaded = await loadForExport(`${dir}/run`);
    const vocab: string[] = (loaded.vocab as { tokens: string[] }).tokens;
    const ids = Int32Array.from("Nguyen", (c) => Math.max(0, vocab.indexOf(c)));
    const probs = (loaded.model as SequenceClassifier).probabilities(labelledBatch([ids], [0], 1));
    const p = Array.from(probs.dataSync());
    probs.dispose();
    loaded.model.dispose();
    strictEqual(label, LABELS[p.indexOf(Math.max(...p))]);
    ok(
      Math.abs(Number(probability) - Math.max(...p)) < 1e-5,
      `${probability} vs ${Math.max(...p)}`,
    );
  });
});
