/**
 * Issue 21, run directories through `deno task train` as a user runs it:
 * the exclusive lock (item 1), checks before anything is replaced (2), the
 * resume line (3), checkpoint folders refused (5), --overwrite over another
 * task's run (9), a corrupt manifest (10), the advice in refusals (11), the
 * status line after Ctrl-C (15), and schedules, weight decay and
 * --checkpoint-every (17).
 */
import { deepStrictEqual, notStrictEqual, ok, strictEqual } from "node:assert";
import { script, smallCorpus, snapshot, spawnScript, usageError } from "../_script.ts";
import { saveCheckpoint } from "../../lib/training/checkpoint.ts";

const CORE = ["--num-steps", "8", "--backend", "cpu", "--hidden-size", "16", "--batch-size", "4"];
const TINY = [...CORE, "--sample-every", "0"];

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

/** Starts `train` in the background with `--json`; its stdout rows arrive through `onRow`. */
const spawnTrain = (args: string[], onRow: (row: Record<string, unknown>) => void) =>
  spawnScript("train", args, onRow);

Deno.test("a second run into a live run's directory is refused; Ctrl-C releases the lock; resume says 'epoch E of N'", async () => {
  const dir = await Deno.makeTempDir();
  const corpus = await smallCorpus(dir);
  const out = `${dir}/run`;
  let second: Awaited<ReturnType<typeof script>> | undefined;
  let started = false;
  const first = spawnTrain(["--corpus", corpus, "--out", out, "--epochs", "40", ...TINY], (row) => {
    if (row.event === "epoch" && row.epoch === 1 && !started) {
      started = true;
      script("train", ["--corpus", corpus, "--out", out, "--overwrite", "--epochs", "1", ...TINY])
        .then((run) => {
          second = run;
          first.child.kill("SIGINT");
        });
    }
  });
  const { code, stderr } = await first.done;
  ok(second?.stderr !== undefined, "the second run ran");
  usageError(
    second!,
    /^error: Cannot train into ".*\/run": another run \(process \d+\) is training there now/,
  );
  strictEqual(code, 130, stderr);
  const stopped = /SIGINT: stopped at epoch (\d+), step (\d+) of (\d+);/.exec(stderr);
  ok(stopped, stderr);
  strictEqual(stopped[3], "158", "the epoch's step count, not the run's 40 epochs");
  ok(!await exists(`${out}/.lock`), "the lock is released on Ctrl-C");
  const history = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n");
  ok(history.every((line, i) => JSON.parse(line).epoch === i + 1), "no epoch lost or doubled");
  const epoch = Number(stopped[1]);
  const resumed = await script("train", ["--resume", out, "--epochs", String(epoch)]);
  strictEqual(resumed.code, 0, resumed.stderr);
  ok(resumed.stderr.includes(`resuming at epoch ${epoch} of ${epoch}`), resumed.stderr);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("--checkpoint-every saves inside an epoch; a killed run's stale lock is taken over by --resume", async () => {
  const dir = await Deno.makeTempDir();
  const corpus = await smallCorpus(dir);
  const out = `${dir}/run`;
  const run = spawnTrain(
    ["--corpus", corpus, "--out", out, "--epochs", "3", "--checkpoint-every", "40", ...TINY],
    () => {},
  );
  let ended = false;
  run.done.then(() => ended = true);
  while (!ended && !await exists(`${out}/checkpoint/manifest.json`)) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  ok(!ended, "the run ended before its first checkpoint");
  run.child.kill("SIGKILL");
  strictEqual((await run.done).code, 137);
  ok(await exists(`${out}/.lock`), "kill -9 leaves the lock file behind");
  const manifest = JSON.parse(await Deno.readTextFile(`${out}/checkpoint/manifest.json`));
  const { position, history } = manifest.progress;
  strictEqual(position.epoch, 1);
  ok(position.step > 0 && position.step % 40 === 0, `saved at step ${position.step}`);
  deepStrictEqual(history, [], "before the epoch ended");
  const resumed = await script("train", ["--resume", out, "--epochs", "1", "--json"]);
  strictEqual(resumed.code, 0, resumed.stderr);
  strictEqual(resumed.rows.filter((r) => r.event === "epoch").length, 1);
  ok(!await exists(`${out}/.lock`));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checks before replacing: a bad --prefix leaves the run; schedules and weight decay change training", async () => {
  const dir = await Deno.makeTempDir();
  const corpus = await smallCorpus(dir);
  const out = `${dir}/run`;
  const base = ["--corpus", corpus, "--epochs", "1", ...TINY];
  const plain = await script("train", [...base, "--out", out, "--json"]);
  strictEqual(plain.code, 0, plain.stderr);
  const before = await snapshot(out);
  usageError(
    await script("train", [
      ...["--corpus", corpus, "--epochs", "1", ...CORE, "--out", out, "--overwrite"],
      ...["--prefix", "日本", "--sample-every", "1"],
    ]),
    /^error: Cannot sample: the prefix "日本" has no char tokens/,
  );
  deepStrictEqual(await snapshot(out), before, "the old run is as it was");
  const ppl = (run: Awaited<ReturnType<typeof script>>) => {
    strictEqual(run.code, 0, run.stderr);
    return run.rows.find((r) => r.event === "epoch")!.trainPerplexity;
  };
  const cosine = await script("train", [
    ...[...base, "--out", `${dir}/cosine`, "--json"],
    ...["--lr-schedule", "cosine", "--warmup-steps", "20"],
  ]);
  notStrictEqual(ppl(cosine), ppl(plain));
  const saved = JSON.parse(await Deno.readTextFile(`${dir}/cosine/checkpoint/manifest.json`));
  strictEqual(saved.config.train.lrSchedule, "cosine");
  strictEqual(saved.config.train.warmupSteps, 20);
  const decayed = await script("train", [
    ...[...base, "--out", `${dir}/decay`, "--json", "--weight-decay", "0.5"],
  ]);
  notStrictEqual(ppl(decayed), ppl(plain));
  const help = await script("train", ["--help"]);
  ok(/decoupled \(AdamW\) with adam,\s+plain L2 regularisation with sgd/.test(help.stdout));
  // --resume takes the run folder, not a checkpoint folder inside it.
  for (const folder of ["checkpoint", "best"]) {
    usageError(
      await script("train", ["--resume", `${out}/${folder}`, "--epochs", "2"]),
      new RegExp(`it is a checkpoint folder, not a run folder.*--resume ${out}$`),
    );
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("--overwrite clears another task's run files only; refusals advise what works; a corrupt manifest is named", async () => {
  const dir = await Deno.makeTempDir();
  const corpus = await smallCorpus(dir);
  const other = `${dir}/other`;
  await saveCheckpoint(`${other}/checkpoint`, {
    kind: "classifier",
    weights: {},
    config: {},
    vocab: null,
    progress: { history: [] },
  });
  for (const name of ["report.txt", "split.json", "bleu.txt", "confusion.svg", "notes.md"]) {
    await Deno.writeTextFile(`${other}/${name}`, "x");
  }
  const refused = await script("train", ["--corpus", corpus, "--out", other, ...TINY]);
  usageError(
    refused,
    /a classifier run cannot be resumed as a lm run: replace it with --overwrite/,
  );
  ok(!refused.stderr.includes("--resume"), refused.stderr);
  await Deno.mkdir(`${dir}/notes`);
  await Deno.writeTextFile(`${dir}/notes/a.txt`, "x");
  const notRun = await script("train", ["--corpus", corpus, "--out", `${dir}/notes`, ...TINY]);
  usageError(notRun, /it is not a run to resume: choose another --out/);
  ok(!notRun.stderr.includes("--resume"), notRun.stderr);
  const replaced = await script("train", [
    ...["--corpus", corpus, "--out", other, "--overwrite", "--epochs", "1", ...TINY],
  ]);
  strictEqual(replaced.code, 0, replaced.stderr);
  const names = [];
  for await (const entry of Deno.readDir(other)) names.push(entry.name);
  deepStrictEqual(
    names.sort(),
    ["best", "checkpoint", "metrics.jsonl", "notes.md", "perplexity.svg"],
    "the classifier's files are gone, the user's notes stay",
  );
  await Deno.writeTextFile(`${other}/checkpoint/manifest.json`, "{ not json");
  usageError(
    await script("train", ["--resume", other, "--epochs", "3"]),
    /checkpoint".*manifest\.json is not JSON/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train: a non-finite loss with --on-nan skip does not advise --on-nan skip", async () => {
  const dir = await Deno.makeTempDir();
  const corpus = await smallCorpus(dir);
  const run = await script("train", [
    ...["--corpus", corpus, "--out", `${dir}/run`, "--epochs", "1", "--on-nan", "skip"],
    ...["--optimizer", "sgd", "--lr", "1000", "--clip", "0", ...TINY],
  ]);
  strictEqual(run.code, 1, run.stderr);
  ok(/diverged/.test(run.stderr), run.stderr);
  ok(!run.stderr.includes("--on-nan skip drops"), run.stderr);
  await Deno.remove(dir, { recursive: true });
});

const hasScript = await Deno.stat("/usr/bin/script").then(() => true, () => false);

Deno.test({
  name:
    "progress: on a terminal the bar reads 'epoch E/N' with the run's ETA; piped, one line per epoch",
  ignore: !hasScript, // util-linux's script(1) gives the run a terminal
  async fn() {
    const dir = await Deno.makeTempDir();
    const corpus = await smallCorpus(dir);
    const args = ["--corpus", corpus, "--epochs", "2", ...TINY];
    const command = [Deno.execPath(), "run", "-A", "scripts/train.ts", ...args, "--out"];
    const tty = await new Deno.Command("script", {
      args: ["-qec", [...command, `${dir}/tty`].join(" "), "/dev/null"],
      cwd: new URL("../..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    strictEqual(tty.code, 0);
    const screen = new TextDecoder().decode(tty.stdout);
    ok(/epoch 2\/2 [░█]+ \d+% \| \d+\/158 \| ETA \d+s ppl [\d.]+ \| run ETA \d+s/.test(screen));
    const piped = await script("train", [...args, "--out", `${dir}/piped`]);
    strictEqual(piped.code, 0, piped.stderr);
    ok(/epoch 1\/2 done: 158 steps in [\d.]+s, run ETA \d+s\n/.test(piped.stderr), piped.stderr);
    ok(/epoch 2\/2 done: 158 steps/.test(piped.stderr), piped.stderr);
    await Deno.remove(dir, { recursive: true });
  },
});
