/**
 * The command line as a user meets it first: every script's `--help`, the
 * bench sub-commands, and the sample flags that used to be ignored silently.
 */
import { ok, strictEqual } from "node:assert";
import { script } from "./_script.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Each script's help and the placeholders its path flags must show. */
const HELPS: [string, string[], string[]][] = [
  ["train", ["--help"], ["--corpus <path>", "--out <dir>", "--resume <dir>"]],
  ["evaluate", ["--help"], ["--checkpoint <dir>", "--corpus <path>"]],
  ["sample", ["--help"], ["--checkpoint <dir>", "--prefix <text>"]],
  ["bench", ["--help"], ["--corpus <path>", "--torch <path>", "--cells <list>"]],
  ["bench", ["train", "--help"], ["--corpus <path>"]],
  ["bench", ["corpus", "--help"], ["--sizes <sizes>", "--temp-dir <dir>", "--token <char|word>"]],
  ["bench", ["seq2seq", "--help"], ["--data <path>", "--attention <list>", "--torch-epochs <int>"]],
  ["translate", ["--help"], ["--data <path>", "--beam <int>", "--attention <none|additive|dot>"]],
  ["soak", ["--help"], ["--corpus <path>", "--out <dir>"]],
];

Deno.test("every script takes --help: usage on stdout, exit 0, path flags as <path> or <dir>", async () => {
  for (const [name, args, placeholders] of HELPS) {
    const what = `${name} ${args.join(" ")}`;
    const { code, stdout, stderr } = await script(name, args);
    strictEqual(code, 0, `${what}: ${stderr}`);
    ok(stdout.startsWith("Usage: deno "), `${what}: ${stdout.slice(0, 80)}`);
    ok(stdout.includes("-h, --help"), `${what}: lists --help like the other scripts`);
    ok(!/<</.test(stdout), `${what}: doubled brackets in\n${stdout}`);
    for (const p of placeholders) ok(stdout.includes(p), `${what}: no "${p}" in\n${stdout}`);
  }
});

Deno.test("bench corpus: a bad flag is one line and exit 2, with the nearest flag", async () => {
  const { code, stdout, stderr } = await script("bench", ["corpus", "--size", "1MB"]);
  strictEqual(code, 2, stderr);
  strictEqual(stdout, "");
  strictEqual(stderr, 'error: Unknown flag "--size": did you mean "--sizes"?\n');
  const bad = await script("bench", ["corpus", "--sizes", "1XB"]);
  strictEqual(bad.code, 2, bad.stderr);
  ok(/^error: Invalid value "1XB" for --sizes: expected .*\n$/.test(bad.stderr), bad.stderr);
});

Deno.test("sample refuses --greedy with a sampling flag, before loading anything", async () => {
  for (
    const [flag, value] of [["--top-k", "5"], ["--top-p", "0.9"], ["--temperature", "0.5"]]
  ) {
    const { code, stdout, stderr } = await script("sample", [
      "--checkpoint",
      `${ROOT}no/such/run`,
      "--greedy",
      flag,
      value,
    ]);
    strictEqual(code, 2, stderr);
    strictEqual(stdout, "");
    strictEqual(stderr.split("\n").length, 2, `one line: ${stderr}`);
    ok(stderr.startsWith(`error: Cannot sample with --greedy and ${flag} ${value}:`), stderr);
  }
});

Deno.test("sample says when normalisation changes the prefix, and only then", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rnn_sample_notice_" });
  try {
    const corpus = `${dir}/small.txt`;
    const text = await Deno.readTextFile(`${ROOT}data/timemachine.txt`);
    await Deno.writeTextFile(corpus, text.slice(0, 6000));
    const out = `${dir}/run`;
    const train = await script("train", [
      ...["--corpus", corpus, "--out", out, "--epochs", "1", "--hidden-size", "8"],
      ...["--batch-size", "4", "--num-steps", "8", "--backend", "cpu", "--json"],
    ]);
    strictEqual(train.code, 0, train.stderr);
    const common = ["--checkpoint", out, "--length", "3", "--backend", "cpu", "--json"];
    const changed = await script("sample", [...common, "--prefix", "Zoë 123"]);
    strictEqual(changed.code, 0, changed.stderr);
    ok(
      changed.stderr.includes('notice: the prefix "Zoë 123" reads as "zo" after d2l normalisation'),
      changed.stderr,
    );
    strictEqual(JSON.parse(changed.stdout).text.slice(0, 2), "zo");
    const same = await script("sample", [...common, "--prefix", "time traveller"]);
    strictEqual(same.code, 0, same.stderr);
    ok(!same.stderr.includes("notice:"), same.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
