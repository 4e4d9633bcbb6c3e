import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert";
import { UsageError } from "../../lib/errors.ts";
import { Rng } from "../../lib/rng.ts";
import {
  bucketBatches,
  encodeLabelled,
  foldAccents,
  labelledBatch,
  labelledTokens,
  labelledVocab,
  loadLabelled,
  stratifiedSplit,
} from "../../lib/supervised/labelled.ts";

async function folder(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir();
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return dir;
}

Deno.test("loadLabelled() reads a folder of <label>.txt files, labels sorted", async () => {
  const dir = await folder({
    "Greek.txt": "Papadopoulos\r\n  \nAlexiou\n",
    "Czech.txt": "Dvořák\n",
  });
  const data = await loadLabelled(dir);
  deepStrictEqual(data.labels, ["Czech", "Greek"]);
  deepStrictEqual(data.examples.map((e) => [e.text, e.label]), [
    ["Dvořák", 0],
    ["Papadopoulos", 1],
    ["Alexiou", 1],
  ]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loadLabelled() reads a label<TAB>text file", async () => {
  const dir = await folder({ "data.tsv": "pos\tgood film\nneg\tdull\n\npos\tfine\n" });
  const data = await loadLabelled(`${dir}/data.tsv`);
  deepStrictEqual(data.labels, ["neg", "pos"]);
  deepStrictEqual(data.examples.map((e) => e.label), [1, 0, 1]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loadLabelled() names each bad input in one line", async () => {
  const empty = await folder({});
  await rejects(loadLabelled(empty), /the folder has no \.txt files/);
  const one = await folder({ "Only.txt": "a\n" });
  await rejects(loadLabelled(one), /1 label \("Only"\), expected at least 2/);
  const blank = await folder({ "A.txt": "x\n", "B.txt": "\n  \n" });
  await rejects(loadLabelled(blank), /label file "B\.txt" has no lines/);
  const tsv = await folder({ "d.tsv": "a\tx\nno tab here\n" });
  await rejects(loadLabelled(`${tsv}/d.tsv`), /line 2 is "no tab here", expected label<TAB>text/);
  await rejects(loadLabelled(`${empty}/missing`), UsageError);
  for (const dir of [empty, one, blank, tsv]) await Deno.remove(dir, { recursive: true });
});

Deno.test("foldAccents() drops combining marks only", () => {
  strictEqual(foldAccents("Nguyễn Łukasz Müller Ségolène"), "Nguyen Łukasz Muller Segolene");
  // NFC and NFD spellings of the same name tokenize alike.
  deepStrictEqual(labelledTokens("e\u0301"), labelledTokens("\u00e9"));
});

Deno.test("encodeLabelled() reports every character outside the vocabulary when strict", () => {
  const vocab = labelledVocab(["Abe", "Bea"]);
  deepStrictEqual([...encodeLabelled(vocab, "Abz")].slice(2), [0]);
  throws(
    () => encodeLabelled(vocab, "Ébz!", { strict: true, action: "classify" }),
    /Cannot classify "Ébz!": "É", "z", "!" are outside the vocabulary.*folding accents/,
  );
  strictEqual(encodeLabelled(vocab, "Abe", { strict: true }).length, 3);
  // Reserved token texts are not characters of the vocabulary.
  throws(() => encodeLabelled(labelledVocab(["a"], { token: "word" }), "<pad>", { strict: true }));
  throws(() => encodeLabelled(vocab, "   "), /no tokens/);
});

Deno.test("stratifiedSplit() keeps each label's share, is seeded, and records itself", () => {
  const labels = [...Array(200).fill(0), ...Array(30).fill(1), ...Array(3).fill(2)];
  const a = stratifiedSplit(labels, { seed: 4, validFraction: 0.1, testFraction: 0.2 });
  deepStrictEqual(a.record.counts, [[140, 20, 40], [21, 3, 6], [1, 1, 1]]);
  deepStrictEqual(stratifiedSplit(labels, { seed: 4, validFraction: 0.1, testFraction: 0.2 }), a);
  const b = stratifiedSplit(labels, { seed: 5, validFraction: 0.1, testFraction: 0.2 });
  ok(a.split.test.join() !== b.split.test.join());
  const all = [...a.split.train, ...a.split.valid, ...a.split.test].sort((x, y) => x - y);
  deepStrictEqual(all, [...labels.keys()]);
  deepStrictEqual(a.record.test, a.split.test);
  throws(() => stratifiedSplit(labels, { validFraction: 0.5, testFraction: 0.5 }), /< 1/);
});

Deno.test("bucketBatches() covers every example once and groups similar lengths", () => {
  const rng = new Rng(1);
  const lengths = Array.from({ length: 500 }, () => 1 + rng.int(20));
  const indices = [...lengths.keys()];
  const batches = bucketBatches(indices, lengths, { batchSize: 16, rng: new Rng(2) });
  deepStrictEqual(batches.flat().sort((a, b) => a - b), indices);
  const spread = batches.map((b) =>
    Math.max(...b.map((i) => lengths[i])) - Math.min(...b.map((i) => lengths[i]))
  );
  ok(spread.reduce((a, b) => a + b, 0) / spread.length <= 2, "batches mix lengths");
  const again = bucketBatches(indices, lengths, { batchSize: 16, rng: new Rng(2) });
  deepStrictEqual(again, batches);
});

Deno.test("labelledBatch() pads time-major and rejects an empty sequence", () => {
  const batch = labelledBatch([Int32Array.of(4), Int32Array.of(5, 6)], [1, 0], 1);
  deepStrictEqual([...batch.ids], [4, 5, 1, 6]);
  deepStrictEqual([...batch.labels], [1, 0]);
  throws(() => labelledBatch([new Int32Array(0)], [0], 1), /empty/);
});
