import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { script, usageError } from "../_script.ts";
import { readOnnxMetadata } from "../../lib/export/onnx_proto.ts";
import { decodeSafetensors } from "../../lib/export/safetensors.ts";
import { classifierRun, generatorRun, LABELS, LETTERS, seq2seqRun } from "./_checkpoints.ts";
import { runOnnx, withTempDir } from "./_ort.ts";

/** `deno task export --checkpoint CHECKPOINT --format FORMAT --out OUT ...more`. */
const exportCli = (checkpoint: string, format: string, out: string, ...more: string[]) =>
  script("export", ["--checkpoint", checkpoint, "--format", format, "--out", out, ...more]);

Deno.test("deno task export writes a classifier as ONNX whose metadata_props tokenize and label", async () => {
  await withTempDir(async (dir) => {
    await classifierRun(`${dir}/run`, { cell: "lstm", bidirectional: true });
    const run = await exportCli(`${dir}/run`, "onnx", `${dir}/c.onnx`, "--json");
    strictEqual(run.code, 0, run.stderr);
    deepStrictEqual(run.rows[0].files, [`${dir}/c.onnx`]);
    const bytes = await Deno.readFile(`${dir}/c.onnx`);
    const meta = readOnnxMetadata(bytes);
    strictEqual(meta.kind, "classifier");
    deepStrictEqual(JSON.parse(meta.labels), LABELS);
    strictEqual(JSON.parse(meta.padding_id), 1);
    deepStrictEqual(JSON.parse(meta.vocab).slice(0, 4), ["<unk>", "<pad>", "<bos>", "<eos>"]);
    strictEqual(JSON.parse(meta.tokenizer).normalization, "trim+fold_accents");
    strictEqual(JSON.parse(meta.config).cell, "lstm");
    const vocab: string[] = JSON.parse(meta.vocab);
    const ids = Array.from("cab", (c) => vocab.indexOf(c));
    const out = await runOnnx(bytes, {
      ids: { int64: [...ids, ...ids.slice(0, 1), 1, 1], dims: [2, 3] },
      lengths: { int32: [3, 1], dims: [2] },
    });
    deepStrictEqual(out.probabilities.dims, [2, LABELS.length]);
    ok(Math.abs(out.probabilities.data.slice(0, 3).reduce((a, b) => a + b) - 1) < 1e-5);
  });
});

Deno.test("deno task export writes a seq2seq model as encoder.onnx and decoder.onnx in --out", async () => {
  await withTempDir(async (dir) => {
    await seq2seqRun(`${dir}/run`, { embeddingSize: 4, hiddenSize: 5, attention: "additive" });
    const run = await exportCli(`${dir}/run`, "onnx", `${dir}/s2s`);
    strictEqual(run.code, 0, run.stderr);
    deepStrictEqual(run.stdout.trim().split("\n"), [
      `${dir}/s2s/encoder.onnx`,
      `${dir}/s2s/decoder.onnx`,
    ]);
    const meta = readOnnxMetadata(await Deno.readFile(`${dir}/s2s/decoder.onnx`));
    strictEqual(meta.graph, "decoder");
    strictEqual(JSON.parse(meta.target_vocab).length, 40);
    strictEqual(JSON.parse(meta.special_ids).bos, 2);
  });
});

Deno.test("deno task export writes safetensors with PyTorch names and the metadata", async () => {
  await withTempDir(async (dir) => {
    await classifierRun(`${dir}/run`, { cell: "gru", layers: 2 });
    const run = await exportCli(`${dir}/run`, "safetensors", `${dir}/c.safetensors`);
    strictEqual(run.code, 0, run.stderr);
    const { tensors, metadata } = decodeSafetensors(await Deno.readFile(`${dir}/c.safetensors`));
    deepStrictEqual(tensors["embedding.weight"].shape, [LETTERS.length + 4, 32]);
    deepStrictEqual(tensors["rnn.weight_ih_l1"].shape, [3 * 128, 128]);
    deepStrictEqual(tensors["out.weight"].shape, [LABELS.length, 128]);
    strictEqual(metadata.gru, "reset_before");
    strictEqual(metadata.kind, "classifier");
  });
});

Deno.test("deno task export: bad input is one line on stderr and exit 2", async () => {
  await withTempDir(async (dir) => {
    await classifierRun(`${dir}/run`, { hiddenSize: 4 });
    await generatorRun(`${dir}/gen`, { hiddenSize: 4 });
    const args = (
      out: string,
      ...more: string[]
    ) => ["--checkpoint", `${dir}/run`, "--out", out, ...more];
    usageError(
      await script("export", args(`${dir}/a`, "--format", "tflite")),
      /--format.*onnx, safetensors/,
    );
    usageError(await script("export", args(`${dir}/a`)), /--format is missing/);
    usageError(
      await exportCli(`${dir}/gen`, "safetensors", `${dir}/g`),
      /holds a generator model, and only lm and classifier/,
    );
    usageError(
      await exportCli(`${dir}/none`, "onnx", `${dir}/n`),
      /none/,
    );
    await Deno.writeTextFile(`${dir}/taken.onnx`, "");
    usageError(
      await script("export", args(`${dir}/taken.onnx`, "--format", "onnx")),
      /exists; pass --overwrite/,
    );
    strictEqual(
      (await Deno.readFile(`${dir}/taken.onnx`)).length,
      0,
      "the existing file is untouched",
    );
    const again = await script(
      "export",
      args(`${dir}/taken.onnx`, "--format", "onnx", "--overwrite"),
    );
    strictEqual(again.code, 0, again.stderr);
    ok((await Deno.readFile(`${dir}/taken.onnx`)).length > 100);
  });
});
