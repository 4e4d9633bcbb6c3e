/**
 * Issue 21, item 4: sequences too long for memory are refused before any
 * model runs, in one line with the estimate and the limit (exit 2), by
 * classify, generate and translate, when training and when labelling or
 * translating text; evaluate runs a huge --batch-size in groups of rows.
 * The wasm backend's 4 GiB heap is the limit here, whatever the machine has.
 */
import { ok, strictEqual } from "node:assert";
import { binaryWords } from "./_fixtures.ts";
import { script, usageError } from "../_script.ts";

const SMALL = [
  ...["--hidden-size", "8", "--embedding-size", "4", "--batch-size", "16"],
  ...["--backend", "wasm", "--epochs", "1"],
];
const REFUSED =
  /^error: Cannot (train|classify|translate) .*: its longest sequence has [\d,]+ steps and a batch of up to \d+ is padded to it: it needs about [\d.]+ [GTP]iB, more than the 4\.0 GiB of the wasm backend's 4 GiB heap$/;

Deno.test("classify, generate and translate refuse a sequence too long for memory with the estimate and the limit", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/data`);
  const words = (x: string, y: string) => binaryWords(20, x, y);
  await Deno.writeTextFile(
    `${dir}/data/A.txt`,
    [...words("a", "b"), "ab".repeat(1_000_000)].join("\n"),
  );
  await Deno.writeTextFile(`${dir}/data/B.txt`, words("c", "d").join("\n"));
  for (const name of ["classify", "generate"]) {
    usageError(
      await script(name, ["--data", `${dir}/data`, "--out", `${dir}/${name}`, ...SMALL]),
      REFUSED,
    );
    await Deno.stat(`${dir}/${name}`).then(() => ok(false, "nothing is written"), () => {});
  }
  const pairs = words("a", "b").map((w) => `${w}\t${[...w].reverse().join("")}`);
  await Deno.writeTextFile(
    `${dir}/pairs.txt`,
    [...pairs, `${"ab ".repeat(1_000_000)}\tba`].join("\n"),
  );
  const PAIRS = [
    ...["--token", "word", "--normalize", "raw", "--min-freq", "1", "--layers", "1"],
    ...SMALL,
  ];
  usageError(
    await script("translate", ["--data", `${dir}/pairs.txt`, "--out", `${dir}/t`, ...PAIRS]),
    REFUSED,
  );

  // Inference: a 40-million-character line to label or to translate.
  await Deno.writeTextFile(`${dir}/data/A.txt`, words("a", "b").join("\n"));
  const run = `${dir}/run`;
  strictEqual(
    (await script("classify", ["--data", `${dir}/data`, "--out", run, ...SMALL])).code,
    0,
  );
  const huge = `${dir}/huge.txt`;
  await Deno.writeTextFile(huge, "ab".repeat(20_000_000) + "\n");
  usageError(
    await script("classify", ["--checkpoint", run, "--predict-file", huge, "--backend", "wasm"]),
    /^error: Cannot classify the text to label: its longest sequence has 40,000,000 steps .* more than the 4\.0 GiB/,
  );
  await Deno.writeTextFile(`${dir}/pairs.txt`, [...pairs, ...pairs].join("\n"));
  const tr = `${dir}/tr`;
  strictEqual(
    (await script("translate", ["--data", `${dir}/pairs.txt`, "--out", tr, ...PAIRS])).code,
    0,
  );
  usageError(
    await script("translate", ["--checkpoint", tr, "--translate-file", huge, "--backend", "wasm"]),
    /^error: Cannot translate the text: its longest sequence has 40,000,000 steps .* more than the 4\.0 GiB/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("evaluate --batch-size 100000 runs in groups of rows", async () => {
  const dir = await Deno.makeTempDir();
  const text = (await Deno.readTextFile("data/timemachine.txt")).slice(0, 30_000);
  await Deno.writeTextFile(`${dir}/tm.txt`, text);
  const train = await script("train", [
    ...["--corpus", `${dir}/tm.txt`, "--out", `${dir}/lm`, "--epochs", "1", "--hidden-size", "16"],
    ...["--sample-every", "0", "--backend", "wasm"],
  ]);
  strictEqual(train.code, 0, train.stderr);
  const evaluate = await script("evaluate", [
    ...["--checkpoint", `${dir}/lm`, "--batch-size", "100000", "--backend", "wasm", "--json"],
  ]);
  strictEqual(evaluate.code, 0, evaluate.stderr);
  ok(Number.isFinite(evaluate.rows[0].perplexity as number), evaluate.stdout);
  await Deno.remove(dir, { recursive: true });
});
