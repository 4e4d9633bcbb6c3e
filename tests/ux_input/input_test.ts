/**
 * Issue 21, input items: invalid UTF-8 refused by every script the same way
 * (item 6), generate from a checkpoint with neither --condition nor
 * --classifier (item 7), translate's empty input and unknown words (item 12).
 * Through the real CLI, on tiny data, one epoch.
 */
import { ok, strictEqual } from "node:assert";
import { binaryWords, reversalPairs } from "./_fixtures.ts";
import { script, usageError } from "../_script.ts";

/** Two labels of 30 distinct strings each: "a"/"b" patterns and "c"/"d" patterns. */
async function tinyFolder(dir: string): Promise<string> {
  const words = (x: string, y: string) => binaryWords(30, x, y);
  await Deno.mkdir(`${dir}/data`);
  await Deno.writeTextFile(`${dir}/data/Alt.txt`, words("a", "b").join("\n") + "\n");
  await Deno.writeTextFile(`${dir}/data/Dbl.txt`, words("c", "d").join("\n") + "\n");
  return `${dir}/data`;
}

const SMALL = [
  ...["--hidden-size", "8", "--embedding-size", "4", "--batch-size", "16"],
  ...["--backend", "cpu", "--epochs", "1"],
];
const PAIRS = [
  ...["--token", "char", "--normalize", "raw", "--min-freq", "1"],
  ...["--embedding-size", "8", "--hidden-size", "8", "--layers", "1"],
  ...["--batch-size", "16", "--backend", "cpu", "--epochs", "1"],
];
/** "ab\n" then a lone continuation byte: invalid at byte offset 3, line 2. */
const BAD = new Uint8Array([0x61, 0x62, 0x0a, 0x80, 0x61, 0x0a]);
const INVALID = /^error: Cannot decode corpus ".*": invalid UTF-8 at byte offset 3 \(line 2\)$/;

Deno.test("invalid UTF-8 is refused by classify, generate, translate and --predict-file alike", async () => {
  const dir = await Deno.makeTempDir();
  const data = await tinyFolder(dir);
  await Deno.mkdir(`${dir}/bad`);
  await Deno.copyFile(`${data}/Alt.txt`, `${dir}/bad/Alt.txt`);
  await Deno.writeFile(`${dir}/bad/Dbl.txt`, BAD);
  usageError(
    await script("classify", ["--data", `${dir}/bad`, "--out", `${dir}/c`, ...SMALL]),
    INVALID,
  );
  usageError(
    await script("generate", ["--data", `${dir}/bad`, "--out", `${dir}/g`, ...SMALL]),
    INVALID,
  );
  await Deno.writeFile(
    `${dir}/bad.tsv`,
    new Uint8Array([...new TextEncoder().encode("A\tab\nB\t"), 0xff]),
  );
  usageError(
    await script("classify", ["--data", `${dir}/bad.tsv`, "--out", `${dir}/c2`, ...SMALL]),
    /^error: Cannot decode corpus ".*bad\.tsv": invalid UTF-8 at byte offset 7 \(line 2\)$/,
  );
  await Deno.writeFile(
    `${dir}/pairs.txt`,
    new Uint8Array([...new TextEncoder().encode("ab\tba\n"), 0xc3, 0x28, 0x09, 0x61, 0x0a]),
  );
  usageError(
    await script("translate", ["--data", `${dir}/pairs.txt`, "--out", `${dir}/t`, ...PAIRS]),
    /^error: Cannot decode corpus ".*pairs\.txt": invalid UTF-8 at byte offset 6 \(line 2\)$/,
  );

  // --predict-file, from a file and from stdin.
  const run = `${dir}/run`;
  const train = await script("classify", ["--data", data, "--out", run, ...SMALL]);
  strictEqual(train.code, 0, train.stderr);
  await Deno.writeFile(`${dir}/predict.txt`, BAD);
  usageError(
    await script("classify", ["--checkpoint", run, "--predict-file", `${dir}/predict.txt`]),
    INVALID,
  );
  const piped = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/classify.ts", "--checkpoint", run, "--predict-file", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = piped.stdin.getWriter();
  await writer.write(BAD);
  await writer.close();
  const out = await piped.output();
  usageError({
    code: out.code,
    rows: [],
    stdout: "",
    stderr: new TextDecoder().decode(out.stderr),
  }, /^error: Cannot decode corpus "stdin": invalid UTF-8 at byte offset 3 \(line 2\)$/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("generate from a checkpoint: a conditioned model needs --condition or --classifier, an unconditioned one samples", async () => {
  const dir = await Deno.makeTempDir();
  const data = await tinyFolder(dir);
  const conditioned = `${dir}/cond`;
  const none = `${dir}/none`;
  for (const [out, conditioning] of [[conditioned, "init"], [none, "none"]]) {
    const train = await script("generate", [
      ...["--data", data, "--out", out, "--conditioning", conditioning],
      ...SMALL,
    ]);
    strictEqual(train.code, 0, train.stderr);
  }
  usageError(
    await script("generate", ["--checkpoint", conditioned, "--count", "3", "--backend", "cpu"]),
    /^error: Nothing to generate: .* is a conditioned model, expected --condition LABEL \(one of Alt, Dbl\) or --classifier RUN$/,
  );
  const free = await script("generate", ["--checkpoint", none, "--count", "3", "--backend", "cpu"]);
  strictEqual(free.code, 0, free.stderr);
  strictEqual(free.stdout.trimEnd().split("\n").length, 3, free.stdout);
  const json = await script("generate", [
    ...["--checkpoint", none, "--count", "2", "--backend", "cpu", "--json"],
  ]);
  strictEqual(json.code, 0, json.stderr);
  ok(json.rows.every((r) => r.event === "sample" && r.condition === null), json.stdout);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("translate refuses an empty --translate and gives a notice for unknown source words", async () => {
  const dir = await Deno.makeTempDir();
  await reversalPairs(dir);
  const run = `${dir}/run`;
  const train = await script("translate", [
    ...["--data", `${dir}/pairs.txt`, "--out", run, ...PAIRS],
  ]);
  strictEqual(train.code, 0, train.stderr);
  for (const empty of ["", "   "]) {
    usageError(
      await script("translate", ["--checkpoint", run, "--translate", empty]),
      /^error: Invalid --translate "": expected a sentence/,
    );
  }
  const unknown = await script("translate", ["--checkpoint", run, "--translate", "azz"]);
  strictEqual(unknown.code, 0, unknown.stderr);
  ok(
    /^notice: "z" in "azz" is not in the model's source vocabulary \(read as <unk>\)$/m.test(
      unknown.stderr,
    ),
    unknown.stderr,
  );
  ok(unknown.stdout.startsWith("azz => "), unknown.stdout);
  // Item 16: one BLEU scale (0-1) in the text summary and in --json.
  const text = await script("translate", ["--evaluate", "--checkpoint", run, "--backend", "cpu"]);
  const json = await script("translate", [
    ...["--evaluate", "--checkpoint", run, "--backend", "cpu", "--json"],
  ]);
  strictEqual(text.code + json.code, 0, text.stderr + json.stderr);
  const bleu = json.rows[0].bleu as number;
  ok(bleu >= 0 && bleu <= 1, String(bleu));
  ok(text.stdout.includes(`BLEU-4 ${bleu.toFixed(4)}, d2l BLEU `), text.stdout);
  const known = await script("translate", ["--checkpoint", run, "--translate", "abc"]);
  strictEqual(known.code, 0, known.stderr);
  ok(!known.stderr.includes("notice"), known.stderr);
  await Deno.remove(dir, { recursive: true });
});
