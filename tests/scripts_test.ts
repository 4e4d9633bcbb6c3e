/**
 * End-to-end: the task scripts run as a user runs them (a subprocess with
 * `--json`), on a small corpus, and their output is checked.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { errorLines } from "./_script.ts";

const ROOT = new URL("..", import.meta.url).pathname;

interface Run {
  code: number;
  rows: Record<string, unknown>[];
  stdout: string;
  stderr: string;
}

async function script(name: string, args: string[]): Promise<Run> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/${name}.ts`, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  const { code, stdout, stderr } = await command.output();
  const out = new TextDecoder().decode(stdout);
  const rows = args.includes("--json")
    ? out.split("\n").filter(Boolean).map((line) => JSON.parse(line))
    : [];
  return { code, rows, stdout: out, stderr: new TextDecoder().decode(stderr) };
}

async function smallCorpus(dir: string): Promise<string> {
  const text = await Deno.readTextFile(`${ROOT}data/timemachine.txt`);
  const path = `${dir}/small.txt`;
  await Deno.writeTextFile(path, text.slice(0, 12000));
  return path;
}

const TINY = ["--hidden-size", "32", "--batch-size", "8", "--num-steps", "16", "--backend", "cpu"];

Deno.test("train, evaluate and sample run end to end with --json", async () => {
  const dir = await Deno.makeTempDir();
  const corpus = await smallCorpus(dir);
  const out = `${dir}/run`;
  const train = await script("train", [
    "--corpus",
    corpus,
    "--out",
    out,
    "--epochs",
    "4",
    "--cell",
    "gru",
    "--lr",
    "0.02",
    "--sample-every",
    "2",
    "--json",
    ...TINY,
  ]);
  strictEqual(train.code, 0, train.stderr);
  const epochs = train.rows.filter((r) => r.event === "epoch");
  strictEqual(epochs.length, 4);
  for (const key of ["epoch", "trainPerplexity", "validPerplexity", "tokensPerSec", "backend"]) {
    ok(key in epochs[0], `epoch rows have ${key}`);
  }
  const first = epochs[0].trainPerplexity as number, last = epochs[3].trainPerplexity as number;
  ok(last < first * 0.8, `training lowers perplexity: ${first} -> ${last}`);
  const samples = train.rows.filter((r) => r.event === "sample");
  strictEqual(samples.length, 2);
  ok((samples[0].text as string).startsWith("time traveller"));
  const done = train.rows.at(-1)!;
  strictEqual(done.event, "done");
  strictEqual(done.checkpoint, `${out}/checkpoint`);
  const metrics = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n");
  strictEqual(metrics.length, 4);
  ok((await Deno.readTextFile(`${out}/perplexity.svg`)).startsWith("<svg"));

  const evaluate = await script("evaluate", ["--checkpoint", out, "--json", "--backend", "cpu"]);
  strictEqual(evaluate.code, 0, evaluate.stderr);
  const row = evaluate.rows[0];
  strictEqual(row.event, "evaluate");
  strictEqual(row.split, "valid");
  const reported = epochs[3].validPerplexity as number;
  ok(Math.abs((row.perplexity as number) - reported) < 1e-6 * reported, "same as train reported");

  const sampleArgs = [
    "--checkpoint",
    out,
    "--length",
    "30",
    "--seed",
    "7",
    "--json",
    "--backend",
    "cpu",
  ];
  const a = await script("sample", sampleArgs), b = await script("sample", sampleArgs);
  strictEqual(a.code, 0, a.stderr);
  strictEqual(a.rows[0].event, "sample");
  deepStrictEqual(a.rows, b.rows, "a seed reproduces the sample");
  strictEqual((a.rows[0].text as string).length, "time traveller".length + 30);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("sample streams plain text to stdout without --json", async () => {
  const dir = await Deno.makeTempDir();
  const corpus = await smallCorpus(dir);
  const out = `${dir}/run`;
  strictEqual(
    (await script("train", [
      "--corpus",
      corpus,
      "--out",
      out,
      "--epochs",
      "1",
      "--sample-every",
      "0",
      ...TINY,
    ])).code,
    0,
  );
  const plain = await script("sample", [
    "--checkpoint",
    out,
    "--prefix",
    "The",
    "--length",
    "10",
    "--greedy",
    "--backend",
    "cpu",
  ]);
  strictEqual(plain.code, 0, plain.stderr);
  ok(/^the[a-z ]{10}\n$/.test(plain.stdout), JSON.stringify(plain.stdout));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("bad input: one line on stderr, exit code 2, nothing written", async () => {
  const dir = await Deno.makeTempDir();
  const out = `${dir}/never`;
  const cases: [string, string[], RegExp][] = [
    ["train", ["--learning-rate", "1"], /--learning-rate/],
    ["train", ["--lr", "0"], /--lr/],
    ["train", ["--lr", "-1"], /--lr/],
    ["train", ["--batch-size", "0"], /--batch-size/],
    ["train", ["--hidden-size", "0"], /--hidden-size/],
    ["train", ["--cell", "transformer"], /--cell/],
    ["train", ["--backend", "tpu"], /--backend/],
    ["train", ["--corpus", `${dir}/missing.txt`], /missing\.txt/],
    ["sample", ["--checkpoint", `${dir}/nothing`], /nothing/],
    ["sample", ["--checkpoint", dir, "--temperature", "0"], /--temperature/],
    ["sample", ["--checkpoint", dir, "--top-p", "1.5"], /--top-p/],
    ["sample", ["--checkpoint", dir], new RegExp(dir.replaceAll("/", "\\/"))],
    ["evaluate", ["--checkpoint", `${dir}/nothing`], /nothing/],
  ];
  for (const [name, args, mention] of cases) {
    const run = await script(
      name,
      [...args, "--out", out].filter((a) => name === "train" || a !== "--out" && a !== out),
    );
    strictEqual(run.code, 2, `${name} ${args.join(" ")}: ${run.stderr}`);
    const lines = errorLines(run.stderr);
    strictEqual(lines.length, 1, `one line for ${args.join(" ")}: ${run.stderr}`);
    ok(mention.test(lines[0]), `${lines[0]} names ${mention}`);
    strictEqual(run.stdout, "");
  }
  await Deno.stat(out).then(() => ok(false, "nothing is written"), () => {});
  await Deno.remove(dir, { recursive: true });
});
