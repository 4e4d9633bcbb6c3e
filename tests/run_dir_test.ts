/**
 * What a new user hit with run directories, divergence, resume, defaults and
 * memory (issue 14, items 1-3, 5 and 6), driven through `deno task train`,
 * `evaluate` and `sample` as a user runs them.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { script, smallCorpus, snapshot, usageError } from "./_script.ts";

const SMALL = ["--num-steps", "8", "--backend", "cpu", "--sample-every", "0"];
const TINY = [...SMALL, "--hidden-size", "16", "--batch-size", "4"];

Deno.test("a run never writes into a directory holding another run; a failed check leaves it as it was", async () => {
  const dir = await Deno.makeTempDir();
  const corpus = await smallCorpus(dir);
  const out = `${dir}/run`;
  strictEqual(
    (await script("train", ["--corpus", corpus, "--out", out, "--epochs", "1", ...TINY])).code,
    0,
  );
  const before = await snapshot(out);
  usageError(
    await script("train", ["--corpus", corpus, "--out", out, "--epochs", "1", ...TINY]),
    /^error: Cannot train into ".*": it holds another run \(a lm model, 1 epoch\(s\) done\).*--resume.*--overwrite/,
  );
  // With --overwrite, a configuration that fails its checks still writes nothing.
  usageError(
    await script("train", [
      ...["--corpus", corpus, "--out", out, "--overwrite", "--batch-size", "100000"],
      ...SMALL,
    ]),
    /--batch-size 100000 --num-steps 8: the training split has \d+ tokens/,
  );
  deepStrictEqual(await snapshot(out), before, "the run directory is exactly as it was");
  // --overwrite that passes its checks replaces the run.
  const replaced = await script("train", [
    ...["--corpus", corpus, "--out", out, "--overwrite", "--epochs", "1", "--seed", "3"],
    ...TINY,
  ]);
  strictEqual(replaced.code, 0, replaced.stderr);
  const history = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n");
  strictEqual(history.length, 1);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an infinite perplexity is divergence: exit 1, and the directory as it was", async () => {
  const dir = await Deno.makeTempDir();
  const corpus = await smallCorpus(dir);
  const run = await script("train", [
    ...["--corpus", corpus, "--out", `${dir}/run`, "--epochs", "2"],
    ...["--optimizer", "sgd", "--lr", "1000", "--clip", "0", "--hidden-size", "8"],
    ...["--batch-size", "4", ...SMALL],
  ]);
  strictEqual(run.code, 1, run.stderr);
  ok(/diverged at epoch 1: validPerplexity Infinity/.test(run.stderr), run.stderr);
  ok(/no checkpoint was written/.test(run.stderr), run.stderr);
  await Deno.stat(`${dir}/run`).then(
    () => ok(false, "nothing was written"),
    (error) => ok(error instanceof Deno.errors.NotFound),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("--resume of a finished run says there is nothing to do; --epochs extends it", async () => {
  const dir = await Deno.makeTempDir();
  const corpus = await smallCorpus(dir);
  const out = `${dir}/run`;
  strictEqual(
    (await script("train", ["--corpus", corpus, "--out", out, "--epochs", "2", ...TINY])).code,
    0,
  );
  const nothing = await script("train", ["--resume", out, "--json"]);
  strictEqual(nothing.code, 0, nothing.stderr);
  deepStrictEqual(nothing.rows.map((r) => [r.event, r.epochs]), [["nothing-to-do", 2]]);
  ok(/Nothing to resume in .*: it has finished all 2 epochs; .*--epochs 12/.test(nothing.stderr));
  const extended = await script("train", ["--resume", out, "--epochs", "3", "--json"]);
  strictEqual(extended.code, 0, extended.stderr);
  deepStrictEqual(extended.rows.filter((r) => r.event === "epoch").map((r) => r.epoch), [3]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the best checkpoint is kept beside the last; evaluate and sample use it unless told", async () => {
  const dir = await Deno.makeTempDir();
  const corpus = await smallCorpus(dir);
  const out = `${dir}/run`;
  const trained = await script("train", [
    ...["--corpus", corpus, "--out", out, "--epochs", "6", "--patience", "1"],
    ...["--optimizer", "sgd", "--lr", "30", "--clip", "0", "--json"],
    ...["--hidden-size", "8", "--batch-size", "4", ...SMALL],
  ]);
  strictEqual(trained.code, 0, trained.stderr);
  const epochs = trained.rows.filter((r) => r.event === "epoch");
  const done = trained.rows.find((r) => r.event === "done")!;
  const valid = epochs.map((r) => r.validPerplexity as number);
  const bestEpoch = valid.indexOf(Math.min(...valid)) + 1;
  strictEqual(done.bestEpoch, bestEpoch);
  ok(
    epochs.length < 6 && epochs.length === bestEpoch + 1,
    "patience 1 stopped after one worse epoch",
  );
  const evaluate = async (...args: string[]) =>
    (await script("evaluate", ["--checkpoint", out, "--backend", "cpu", "--json", ...args]))
      .rows[0];
  const best = await evaluate();
  strictEqual(best.checkpoint, `${out}/best`);
  strictEqual(best.perplexity, valid[bestEpoch - 1]);
  const last = await evaluate("--which", "last");
  strictEqual(last.checkpoint, `${out}/checkpoint`);
  strictEqual(last.perplexity, valid.at(-1));
  const sampled = await script("sample", [
    ...["--checkpoint", out, "--which", "last", "--length", "5", "--backend", "cpu"],
  ]);
  strictEqual(sampled.code, 0, sampled.stderr);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a model too large for memory is refused at once, with the estimate and the limit", async () => {
  const dir = await Deno.makeTempDir();
  const corpus = await smallCorpus(dir);
  for (const size of ["50000", "100000"]) { // about 190 GiB and 750 GiB
    usageError(
      await script("train", [
        ...["--corpus", corpus, "--out", `${dir}/run`, "--hidden-size", size, ...SMALL],
      ]),
      /^error: Cannot train a lstm model of hidden size \d+ \([\d,]+ parameters\) on cpu: it needs about [\d.]+ [GT]iB, more than the [\d.]+ GiB of/,
    );
  }
  await Deno.stat(`${dir}/run`).then(
    () => ok(false, "nothing was written"),
    (error) => ok(error instanceof Deno.errors.NotFound),
  );
  await Deno.remove(dir, { recursive: true });
});
