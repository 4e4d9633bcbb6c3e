/**
 * `deno task classify` and `deno task generate` end to end, as a user runs
 * them (subprocesses), on a small labelled folder the test writes.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { Rng } from "../../lib/rng.ts";
import { interruptAfterFirstEpoch, script, usageError } from "../_script.ts";

/** Two labels of generated strings: alternating letters, and doubled letters. */
export async function tinyFolder(dir: string): Promise<string> {
  const rng = new Rng(7);
  const make = (doubled: boolean) =>
    Array.from({ length: 40 }, () => {
      let s = "";
      const n = 3 + rng.int(8);
      while (s.length < n) {
        const c = "abc"[rng.int(3)];
        if (doubled) s += c + c;
        else if (c !== s.at(-1)) s += c;
      }
      return s.slice(0, n);
    }).join("\n");
  await Deno.mkdir(`${dir}/data`);
  await Deno.writeTextFile(`${dir}/data/Alt.txt`, make(false));
  await Deno.writeTextFile(`${dir}/data/Dbl.txt`, make(true));
  return `${dir}/data`;
}

const TINY = [
  "--hidden-size",
  "8",
  "--embedding-size",
  "4",
  "--batch-size",
  "16",
  "--backend",
  "cpu",
];

Deno.test("classify trains, evaluates and predicts with the --json contract", async () => {
  const dir = await Deno.makeTempDir();
  const data = await tinyFolder(dir);
  const out = `${dir}/run`;
  const train = await script("classify", [
    "--data",
    data,
    "--out",
    out,
    "--epochs",
    "2",
    "--lr",
    "0.02",
    "--json",
    ...TINY,
  ]);
  strictEqual(train.code, 0, train.stderr);
  const epochs = train.rows.filter((r) => r.event === "epoch");
  strictEqual(epochs.length, 2);
  for (
    const key of [
      "epoch",
      "trainLoss",
      "validLoss",
      "validAccuracy",
      "validMacroF1",
      "examplesPerSec",
      "backend",
    ]
  ) {
    ok(key in epochs[0], `epoch rows have ${key}`);
  }
  const evaluate = train.rows.at(-1)!;
  strictEqual(evaluate.event, "evaluate");
  strictEqual(evaluate.split, "test");
  for (const key of ["accuracy", "balancedAccuracy", "macroF1", "examples"]) {
    ok(typeof evaluate[key] === "number", key);
  }
  strictEqual(evaluate.examples, 8);
  for (
    const file of [
      "metrics.jsonl",
      "split.json",
      "confusion.svg",
      "loss.svg",
      "accuracy.svg",
      "report.txt",
      "best",
      "checkpoint",
    ]
  ) {
    await Deno.stat(`${out}/${file}`);
  }
  const split = JSON.parse(await Deno.readTextFile(`${out}/split.json`));
  // 80 lines, 5 repeats of a (text, label) pair dropped before splitting.
  deepStrictEqual(split.counts, [[30, 4, 4], [29, 4, 4]]);
  strictEqual(split.dropped.length, 5);

  // The checkpoint round-trips: scoring it again gives the same numbers.
  const again = await script("classify", [
    "--evaluate",
    "--checkpoint",
    out,
    "--json",
    "--backend",
    "cpu",
  ]);
  strictEqual(again.code, 0, again.stderr);
  deepStrictEqual(
    [again.rows[0].accuracy, again.rows[0].macroF1, again.rows[0].examples],
    [evaluate.accuracy, evaluate.macroF1, evaluate.examples],
  );

  const predict = await script("classify", [
    "--checkpoint",
    out,
    "--predict",
    "abab",
    "--predict-file",
    "-",
    "--top-k",
    "2",
    "--json",
    "--backend",
    "cpu",
  ], "aabb\n\ncc\n");
  strictEqual(predict.code, 0, predict.stderr);
  deepStrictEqual(predict.rows.map((r) => [r.event, r.text]), [["predict", "abab"], [
    "predict",
    "aabb",
  ], ["predict", "cc"]]);
  const top = predict.rows[0].top as { label: string; probability: number }[];
  strictEqual(top.length, 2);
  ok(Math.abs(top[0].probability + top[1].probability - 1) < 1e-5);

  usageError(
    await script("classify", ["--checkpoint", out, "--predict", "abzq", "--backend", "cpu"]),
    /^error: Cannot classify "abzq": "z", "q" are outside the vocabulary/,
  );
  usageError(
    await script("classify", ["--data", data, "--out", out, ...TINY]),
    /^error: Cannot train into ".*": it holds another run \(a classifier model/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("classify refuses bad data folders with one line and exit 2", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/empty`);
  usageError(
    await script("classify", ["--data", `${dir}/empty`, "--out", `${dir}/r1`, ...TINY]),
    /no \.txt files/,
  );
  await Deno.mkdir(`${dir}/one`);
  await Deno.writeTextFile(`${dir}/one/Only.txt`, "abc\nbca\n");
  usageError(
    await script("classify", ["--data", `${dir}/one`, "--out", `${dir}/r2`, ...TINY]),
    /1 label \("Only"\)/,
  );
  await Deno.mkdir(`${dir}/blank`);
  await Deno.writeTextFile(`${dir}/blank/A.txt`, "abc\n");
  await Deno.writeTextFile(`${dir}/blank/B.txt`, "\n\n");
  usageError(
    await script("classify", ["--data", `${dir}/blank`, "--out", `${dir}/r3`, ...TINY]),
    /label file "B\.txt" has no lines/,
  );
  usageError(await script("classify", ["--head", "first"]), /--head/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("generate trains, streams samples for a condition, and checks its condition and checkpoint kind", async () => {
  const dir = await Deno.makeTempDir();
  const data = await tinyFolder(dir);
  const out = `${dir}/gen`;
  usageError(
    await script("generate", ["--data", data, "--out", out, "--condition", "Martian", ...TINY]),
    /^error: Cannot generate for --condition "Martian": it is not a label, expected one of Alt, Dbl$/,
  );
  const train = await script("generate", [
    "--data",
    data,
    "--out",
    out,
    "--epochs",
    "2",
    "--condition",
    "Dbl",
    "--count",
    "3",
    "--json",
    ...TINY,
  ]);
  strictEqual(train.code, 0, train.stderr);
  strictEqual(train.rows.filter((r) => r.event === "epoch").length, 2);
  const evaluate = train.rows.find((r) => r.event === "evaluate")!;
  ok((evaluate.perplexity as number) > 1 && evaluate.split === "test", JSON.stringify(evaluate));
  const samples = train.rows.filter((r) => r.event === "sample");
  strictEqual(samples.length, 3);
  ok(samples.every((r) => r.condition === "Dbl" && typeof r.text === "string"));

  // From the checkpoint, same seed: the same samples; streamed as text, one per line.
  const again = await script("generate", [
    "--checkpoint",
    out,
    "--condition",
    "Dbl",
    "--count",
    "3",
    "--backend",
    "cpu",
  ]);
  strictEqual(again.code, 0, again.stderr);
  deepStrictEqual(again.stdout.trim().split("\n"), samples.map((r) => r.text));

  // A checkpoint of one kind cannot be loaded as the other.
  usageError(
    await script("classify", ["--checkpoint", out, "--predict", "ab", "--backend", "cpu"]),
    /holds a generator model, expected classifier/,
  );
  usageError(
    await script("generate", ["--checkpoint", out, "--condition", "Nope", "--backend", "cpu"]),
    /--condition "Nope"/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("classify and generate: SIGINT saves a checkpoint, exit 130, and --resume finishes", async () => {
  for (const name of ["classify", "generate"]) {
    const dir = await Deno.makeTempDir();
    const data = await tinyFolder(dir);
    const out = `${dir}/run`;
    const interrupted = await interruptAfterFirstEpoch(name, [
      ...["--data", data, "--out", out, "--epochs", "50", ...TINY],
    ]);
    strictEqual(interrupted.code, 130, `${name}: ${interrupted.stderr}`);
    ok(
      interrupted.rows.some((r) =>
        r.event === "interrupted" && r.checkpoint === `${out}/checkpoint`
      ),
    );
    const resumed = await script(name, ["--resume", out, "--epochs", "3", "--json"]);
    strictEqual(resumed.code, 0, resumed.stderr);
    const history = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n");
    strictEqual(history.length, 3, `${name}: every epoch once`);
    await Deno.remove(dir, { recursive: true });
  }
});
