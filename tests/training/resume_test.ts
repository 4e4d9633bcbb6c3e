/**
 * A run interrupted by SIGINT and resumed with --resume reports exactly the
 * losses of a run that was never interrupted (cpu backend: deterministic).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";

const ROOT = new URL("../..", import.meta.url).pathname;

const ARGS = [
  ...["--hidden-size", "24", "--layers", "2", "--dropout", "0.2", "--batch-size", "4"],
  ...["--num-steps", "8", "--epochs", "2", "--optimizer", "adam", "--lr", "0.01"],
  ...["--sample-every", "0", "--backend", "cpu", "--json"],
];

function train(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/train.ts`, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

/** Reads JSON lines from a child's stdout, calling `onRow` for each as it arrives. */
async function rows(
  child: Deno.ChildProcess,
  onRow: (row: Record<string, unknown>) => void = () => {},
): Promise<{ rows: Record<string, unknown>[]; code: number; stderr: string }> {
  const found: Record<string, unknown>[] = [];
  const stderr = new Response(child.stderr).text();
  let buffer = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const row = JSON.parse(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
      found.push(row);
      onRow(row);
    }
  }
  return { rows: found, code: (await child.status).code, stderr: await stderr };
}

const metricsOf = (all: Record<string, unknown>[]) =>
  all.filter((r) => r.event === "epoch").map((
    r,
  ) => [r.epoch, r.trainPerplexity, r.validPerplexity]);

Deno.test("SIGINT saves a checkpoint, exit 130, and --resume continues bit for bit", async () => {
  const dir = await Deno.makeTempDir();
  const text = await Deno.readTextFile(`${ROOT}data/timemachine.txt`);
  const corpus = `${dir}/small.txt`;
  await Deno.writeTextFile(corpus, text.slice(0, 6000));

  const straight = await rows(train(["--corpus", corpus, "--out", `${dir}/a`, ...ARGS]));
  strictEqual(straight.code, 0, straight.stderr);

  const child = train(["--corpus", corpus, "--out", `${dir}/b`, ...ARGS]);
  const interrupted = await rows(child, (row) => {
    if (row.event === "epoch" && row.epoch === 1) child.kill("SIGINT");
  });
  strictEqual(interrupted.code, 130, interrupted.stderr);
  const stop = interrupted.rows.find((r) => r.event === "interrupted");
  ok(stop, "an interrupted row names where the checkpoint is");
  strictEqual(stop.checkpoint, `${dir}/b/checkpoint`);
  ok(/SIGINT: stopped at epoch 2, step \d+/.test(interrupted.stderr), interrupted.stderr);
  // The acknowledgement stays on screen and says what a second Ctrl-C does.
  ok(
    /SIGINT: finishing the current step, then saving a checkpoint.*Ctrl-C again quits at once/
      .test(interrupted.stderr),
    interrupted.stderr,
  );

  const resumed = await rows(train(["--resume", `${dir}/b`, ...ARGS]));
  strictEqual(resumed.code, 0, resumed.stderr);
  const joined = [...metricsOf(interrupted.rows), ...metricsOf(resumed.rows)];
  deepStrictEqual(joined, metricsOf(straight.rows), "identical perplexities, epoch by epoch");
  const history = (await Deno.readTextFile(`${dir}/b/metrics.jsonl`)).trim().split("\n");
  strictEqual(history.length, 2, "metrics.jsonl holds every epoch once");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("--resume refuses a flag that the checkpoint fixes", async () => {
  const dir = await Deno.makeTempDir();
  const text = await Deno.readTextFile(`${ROOT}data/timemachine.txt`);
  await Deno.writeTextFile(`${dir}/small.txt`, text.slice(0, 4000));
  const args = ["--corpus", `${dir}/small.txt`, "--out", `${dir}/run`, ...ARGS];
  strictEqual((await rows(train(args))).code, 0);
  const refused = await rows(train(["--resume", `${dir}/run`, "--hidden-size", "32", "--json"]));
  strictEqual(refused.code, 2);
  ok(/--hidden-size 32.*24/.test(refused.stderr), refused.stderr);
  const nothing = await rows(train(["--resume", `${dir}/missing`, "--json"]));
  strictEqual(nothing.code, 2, nothing.stderr);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a diverging run stops naming the epoch and step, keeping the last checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  const text = await Deno.readTextFile(`${ROOT}data/timemachine.txt`);
  await Deno.writeTextFile(`${dir}/small.txt`, text.slice(0, 4000));
  const run = await rows(train([
    "--corpus",
    `${dir}/small.txt`,
    "--out",
    `${dir}/run`,
    "--optimizer",
    "sgd",
    "--lr",
    "1e38",
    "--clip",
    "0",
    "--hidden-size",
    "8",
    "--batch-size",
    "4",
    "--num-steps",
    "8",
    "--json",
    "--backend",
    "cpu",
  ]));
  strictEqual(run.code, 1, run.stderr);
  ok(/diverged at epoch 1, step 3: loss NaN/.test(run.stderr), run.stderr);
  ok(/no checkpoint was written/.test(run.stderr), run.stderr);
  strictEqual(run.stderr.trim().split("\n").length, 1);
  await Deno.remove(dir, { recursive: true });
});
