import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";
import { tf, useBackend } from "../../lib/tf.ts";
import { UsageError } from "../../lib/errors.ts";
import {
  appendJsonLine,
  CHECKPOINT_FORMAT,
  type CheckpointInput,
  loadCheckpoint,
  readJsonLines,
  readManifest,
  saveCheckpoint,
} from "../../lib/training/checkpoint.ts";

await useBackend("cpu");

/** A small checkpoint with every dtype and rank a model uses, plus optimizer slots. */
function sample(scale = 1): CheckpointInput {
  return {
    weights: {
      "layer0/W_xh": tf.tensor2d([[0.5, -1.25, 3], [4, 5.5, -6]]).mul(scale),
      "layer0/b_h": tf.tensor1d([0.1, 0.2, 0.3]).mul(scale),
      "scale": tf.scalar(2.5 * scale),
      "steps": tf.tensor1d([1, 2, 3], "int32"),
      "mask": tf.tensor1d([true, false], "bool"),
    },
    optimizer: { "adam/m/layer0/W_xh": tf.zeros([2, 3]), "adam/step": tf.scalar(7, "int32") },
    config: { cell: "gru", hiddenSize: 3, lr: 0.001, seed: undefined },
    vocab: ["<unk>", " ", "a", "é"],
    progress: { epoch: 2, step: 123, rngState: 4294967295, bestValidLoss: 1.25 },
  };
}

function disposeAll(...records: Record<string, tf.Tensor>[]): void {
  for (const record of records) tf.dispose(Object.values(record));
}

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "ckpt_test_" });
}

async function listNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

async function assertSameTensors(
  actual: Record<string, tf.Tensor>,
  expected: Record<string, tf.Tensor>,
): Promise<void> {
  deepStrictEqual(Object.keys(actual), Object.keys(expected));
  for (const name of Object.keys(expected)) {
    deepStrictEqual(actual[name].shape, expected[name].shape, name);
    strictEqual(actual[name].dtype, expected[name].dtype, name);
    deepStrictEqual(await actual[name].array(), await expected[name].array(), name);
  }
}

/** Asserts a UsageError whose message contains every fragment. */
async function assertUsage(run: () => Promise<unknown>, ...fragments: string[]): Promise<void> {
  await rejects(run, (error: Error) => {
    ok(error instanceof UsageError, `expected a UsageError, got ${error.name}: ${error.message}`);
    for (const fragment of fragments) {
      ok(error.message.includes(fragment), `"${error.message}" lacks "${fragment}"`);
    }
    return true;
  });
}

async function editManifest(dir: string, edit: (json: Record<string, unknown>) => void) {
  const path = `${dir}/manifest.json`;
  const json = JSON.parse(await Deno.readTextFile(path));
  edit(json);
  await Deno.writeTextFile(path, JSON.stringify(json));
}

Deno.test("saveCheckpoint() then loadCheckpoint() gives back names, shapes, dtypes and values", async () => {
  const root = await tempDir();
  const input = sample();
  const before = tf.memory().numTensors;
  const manifest = await saveCheckpoint(`${root}/ckpt`, input);
  strictEqual(tf.memory().numTensors, before, "saving makes no tensors");
  deepStrictEqual(await listNames(root), ["ckpt"]);
  deepStrictEqual(await listNames(`${root}/ckpt`), ["manifest.json", "weights.bin"]);

  const loaded = await loadCheckpoint(`${root}/ckpt`);
  strictEqual(tf.memory().numTensors, before + 7, "only the returned tensors are new");
  await assertSameTensors(loaded.weights, input.weights);
  await assertSameTensors(loaded.optimizer, input.optimizer!);
  deepStrictEqual(loaded.config, { cell: "gru", hiddenSize: 3, lr: 0.001 });
  deepStrictEqual(loaded.vocab, input.vocab);
  deepStrictEqual(loaded.progress, input.progress);
  deepStrictEqual(loaded.manifest, manifest);
  strictEqual(loaded.path, `${root}/ckpt`);

  strictEqual(manifest.format, CHECKPOINT_FORMAT);
  strictEqual(manifest.formatVersion, 1);
  ok(!Number.isNaN(Date.parse(manifest.createdAt)));
  deepStrictEqual(manifest.weightSpecs.map((e) => [e.group, e.name, e.byteOffset, e.byteLength]), [
    ["model", "layer0/W_xh", 0, 24],
    ["model", "layer0/b_h", 24, 12],
    ["model", "scale", 36, 4],
    ["model", "steps", 40, 12],
    ["model", "mask", 52, 2],
    ["optimizer", "adam/m/layer0/W_xh", 54, 24],
    ["optimizer", "adam/step", 78, 4],
  ]);
  strictEqual(manifest.weightsByteLength, 82);
  strictEqual((await Deno.stat(`${root}/ckpt/weights.bin`)).size, 82);
  deepStrictEqual(await readManifest(`${root}/ckpt`), manifest);
  disposeAll(input.weights, input.optimizer!, loaded.weights, loaded.optimizer);
  await Deno.remove(root, { recursive: true });
});

Deno.test("loadCheckpoint() reads a checkpoint saved on cpu onto the wasm backend", async () => {
  const root = await tempDir();
  const input = sample();
  await saveCheckpoint(`${root}/ckpt`, input);
  await useBackend("wasm");
  try {
    const loaded = await loadCheckpoint(`${root}/ckpt`);
    strictEqual(tf.getBackend(), "wasm");
    await assertSameTensors(loaded.weights, input.weights);
    disposeAll(loaded.weights, loaded.optimizer);
  } finally {
    await useBackend("cpu");
  }
  disposeAll(input.weights, input.optimizer!);
  await Deno.remove(root, { recursive: true });
});

Deno.test("saveCheckpoint() over an earlier checkpoint replaces it and removes the old copy", async () => {
  const root = await tempDir();
  const first = sample(1);
  const second = sample(10);
  second.progress = { epoch: 3 };
  await saveCheckpoint(`${root}/ckpt`, first);
  await saveCheckpoint(`${root}/ckpt`, second);
  deepStrictEqual(await listNames(root), ["ckpt"]);
  const loaded = await loadCheckpoint(`${root}/ckpt`);
  await assertSameTensors(loaded.weights, second.weights);
  deepStrictEqual(loaded.progress, { epoch: 3 });
  disposeAll(first.weights, first.optimizer!, second.weights, second.optimizer!);
  disposeAll(loaded.weights, loaded.optimizer);
  await Deno.remove(root, { recursive: true });
});

Deno.test("loadCheckpoint() falls back to the .old- copy a crash between renames leaves", async () => {
  const root = await tempDir();
  const input = sample();
  await saveCheckpoint(`${root}/ckpt`, input);
  // The state after step 2 of the protocol: dir renamed away, new one not yet in.
  await Deno.rename(`${root}/ckpt`, `${root}/ckpt.old-0a1b2c3d`);
  await Deno.mkdir(`${root}/ckpt.tmp-0a1b2c3d`); // an incomplete new copy: ignored
  await Deno.mkdir(`${root}/ckpt2.old-0a1b2c3d`); // another checkpoint's: left alone
  const loaded = await loadCheckpoint(`${root}/ckpt`);
  strictEqual(loaded.path, `${root}/ckpt.old-0a1b2c3d`);
  await assertSameTensors(loaded.weights, input.weights);
  strictEqual((await readManifest(`${root}/ckpt`)).formatVersion, 1);
  // The next save puts a checkpoint back at dir and clears what the crash left.
  await saveCheckpoint(`${root}/ckpt`, input);
  deepStrictEqual(await listNames(root), ["ckpt", "ckpt2.old-0a1b2c3d"]);
  disposeAll(input.weights, input.optimizer!, loaded.weights, loaded.optimizer);
  await Deno.remove(root, { recursive: true });
});

Deno.test("loadCheckpoint() rejects a truncated weights.bin, naming both sizes", async () => {
  const root = await tempDir();
  const input = sample();
  await saveCheckpoint(`${root}/ckpt`, input);
  await Deno.truncate(`${root}/ckpt/weights.bin`, 50);
  await assertUsage(
    () => loadCheckpoint(`${root}/ckpt`),
    `"${root}/ckpt"`,
    "weights.bin is 50 bytes, but the manifest says 82",
  );
  disposeAll(input.weights, input.optimizer!);
  await Deno.remove(root, { recursive: true });
});

Deno.test("loadCheckpoint() rejects a changed weights.bin by its SHA-256", async () => {
  const root = await tempDir();
  const input = sample();
  const manifest = await saveCheckpoint(`${root}/ckpt`, input);
  const path = `${root}/ckpt/weights.bin`;
  const bytes = await Deno.readFile(path);
  bytes[5] ^= 0x40;
  await Deno.writeFile(path, bytes);
  await assertUsage(
    () => loadCheckpoint(`${root}/ckpt`),
    `"${root}/ckpt"`,
    "weights.bin has SHA-256 ",
    `but the manifest says ${manifest.weightsSha256}`,
  );
  disposeAll(input.weights, input.optimizer!);
  await Deno.remove(root, { recursive: true });
});

Deno.test("loadCheckpoint() and readManifest() refuse a newer formatVersion", async () => {
  const root = await tempDir();
  const input = sample();
  await saveCheckpoint(`${root}/ckpt`, input);
  await editManifest(`${root}/ckpt`, (json) => json.formatVersion = 2);
  for (const read of [loadCheckpoint, readManifest]) {
    await assertUsage(
      () => read(`${root}/ckpt`),
      `"${root}/ckpt"`,
      "formatVersion is 2, newer than 1",
    );
  }
  disposeAll(input.weights, input.optimizer!);
  await Deno.remove(root, { recursive: true });
});

Deno.test("loadCheckpoint() rejects what is not a checkpoint: missing, a file, foreign", async () => {
  const root = await tempDir();
  await assertUsage(() => loadCheckpoint(`${root}/none`), `"${root}/none"`, "no such directory");
  await Deno.writeTextFile(`${root}/file`, "x");
  await assertUsage(
    () => loadCheckpoint(`${root}/file`),
    "it is a file, not a checkpoint directory",
  );
  await Deno.mkdir(`${root}/photos`);
  await Deno.writeTextFile(`${root}/photos/cat.jpg`, "x");
  await assertUsage(
    () => readManifest(`${root}/photos`),
    `"${root}/photos"`,
    "has no manifest.json",
  );
  await Deno.writeTextFile(`${root}/photos/manifest.json`, '{"format":"tfjs-layers"}');
  await assertUsage(
    () => loadCheckpoint(`${root}/photos`),
    'manifest.json has format "tfjs-layers", expected "rnn-deno-checkpoint"',
  );
  await Deno.writeTextFile(`${root}/photos/manifest.json`, "{not json");
  await assertUsage(() => loadCheckpoint(`${root}/photos`), "manifest.json is not JSON");
  await Deno.remove(root, { recursive: true });
});

Deno.test("loadCheckpoint() rejects a manifest whose entries do not fit weights.bin", async () => {
  const root = await tempDir();
  const input = sample();
  await saveCheckpoint(`${root}/ckpt`, input);
  await editManifest(`${root}/ckpt`, (json) => {
    (json.weightSpecs as { shape: number[] }[])[0].shape = [3, 3];
  });
  await assertUsage(
    () => loadCheckpoint(`${root}/ckpt`),
    'weightSpecs[0] ("layer0/W_xh") has byteLength 24, but shape [3,3] of float32 takes 36',
  );
  await editManifest(`${root}/ckpt`, (json) => {
    (json.weightSpecs as { byteOffset: number }[])[6].byteOffset = 80;
  });
  await assertUsage(() => loadCheckpoint(`${root}/ckpt`), "weightSpecs[0]");
  disposeAll(input.weights, input.optimizer!);
  await Deno.remove(root, { recursive: true });
});

Deno.test("loadCheckpoint() names an expected weight that is missing from the manifest", async () => {
  const root = await tempDir();
  const input = sample();
  await saveCheckpoint(`${root}/ckpt`, input);
  const before = tf.memory().numTensors;
  await assertUsage(
    () => loadCheckpoint(`${root}/ckpt`, { expectWeights: ["layer0/W_xh", "layer0/W_hh"] }),
    `"${root}/ckpt"`,
    'weight "layer0/W_hh" is missing from the manifest (it has layer0/W_xh, layer0/b_h, scale',
  );
  strictEqual(tf.memory().numTensors, before, "no tensor is left behind");
  disposeAll(input.weights, input.optimizer!);
  await Deno.remove(root, { recursive: true });
});

Deno.test("saveCheckpoint() under a file gives a UsageError and writes nothing", async () => {
  const root = await tempDir();
  await Deno.writeTextFile(`${root}/file`, "x");
  const input = sample();
  await assertUsage(() => saveCheckpoint(`${root}/file/ckpt`, input), `"${root}/file/ckpt"`);
  await assertUsage(() => saveCheckpoint(`${root}/file`, input), "a file is in the way");
  deepStrictEqual(await listNames(root), ["file"]);
  strictEqual(await Deno.readTextFile(`${root}/file`), "x");
  disposeAll(input.weights, input.optimizer!);
  await Deno.remove(root, { recursive: true });
});

Deno.test({
  name: "saveCheckpoint() into a read-only directory gives a UsageError and writes nothing",
  ignore: Deno.build.os === "windows" || Deno.uid() === 0, // root ignores chmod
  fn: async () => {
    const root = await tempDir();
    const input = sample();
    await Deno.chmod(root, 0o555);
    try {
      await assertUsage(() => saveCheckpoint(`${root}/ckpt`, input), `"${root}/ckpt"`, "ermission");
      deepStrictEqual(await listNames(root), []);
    } finally {
      await Deno.chmod(root, 0o755);
    }
    disposeAll(input.weights, input.optimizer!);
    await Deno.remove(root, { recursive: true });
  },
});

Deno.test("saveCheckpoint() refuses to replace a directory that is not a checkpoint", async () => {
  const root = await tempDir();
  await Deno.mkdir(`${root}/src`);
  await Deno.writeTextFile(`${root}/src/main.ts`, "keep me");
  const input = sample();
  await assertUsage(
    () => saveCheckpoint(`${root}/src`, input),
    `"${root}/src"`,
    "the directory exists and is not a checkpoint",
  );
  strictEqual(await Deno.readTextFile(`${root}/src/main.ts`), "keep me");
  deepStrictEqual(await listNames(root), ["src"]);
  await Deno.mkdir(`${root}/empty`);
  await saveCheckpoint(`${root}/empty`, input); // an empty directory is fine
  disposeAll(input.weights, input.optimizer!);
  await Deno.remove(root, { recursive: true });
});

Deno.test("a failed save leaves the earlier checkpoint whole and no temporary directory", async () => {
  const root = await tempDir();
  const good = sample();
  await saveCheckpoint(`${root}/ckpt`, good);
  const bad = sample(2);
  bad.weights["layer0/b_h"].dispose();
  await rejects(() => saveCheckpoint(`${root}/ckpt`, bad), TypeError);
  bad.progress = { bestValidLoss: NaN };
  await rejects(() => saveCheckpoint(`${root}/ckpt`, { ...bad, weights: {} }), {
    name: "TypeError",
    message: `Cannot save checkpoint "${root}/ckpt": progress.bestValidLoss is NaN, ` +
      "which JSON cannot hold",
  });
  deepStrictEqual(await listNames(root), ["ckpt"]);
  const loaded = await loadCheckpoint(`${root}/ckpt`);
  await assertSameTensors(loaded.weights, good.weights);
  disposeAll(good.weights, good.optimizer!, bad.weights, bad.optimizer!);
  disposeAll(loaded.weights, loaded.optimizer);
  await Deno.remove(root, { recursive: true });
});

Deno.test("appendJsonLine() builds a history that readJsonLines() reads back", async () => {
  const root = await tempDir();
  const path = `${root}/run/metrics.jsonl`;
  await appendJsonLine(path, { epoch: 1, trainPerplexity: 12.5 });
  await appendJsonLine(path, { epoch: 2, trainPerplexity: 8.25, validPerplexity: 9 });
  strictEqual(
    await Deno.readTextFile(path),
    '{"epoch":1,"trainPerplexity":12.5}\n{"epoch":2,"trainPerplexity":8.25,"validPerplexity":9}\n',
  );
  deepStrictEqual(await readJsonLines(path), [
    { epoch: 1, trainPerplexity: 12.5 },
    { epoch: 2, trainPerplexity: 8.25, validPerplexity: 9 },
  ]);
  await rejects(() => appendJsonLine(path, { perplexity: Infinity }), TypeError);
  await Deno.writeTextFile(path, "{}\n{oops\n", { append: true });
  await assertUsage(() => readJsonLines(path), `"${path}"`, "line 4 is not JSON");
  await assertUsage(() => readJsonLines(`${root}/none.jsonl`), `"${root}/none.jsonl"`);
  await Deno.remove(root, { recursive: true });
});
