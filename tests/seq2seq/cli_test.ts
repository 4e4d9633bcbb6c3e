/**
 * `deno task translate` end to end, as a user runs it (subprocesses), on a
 * small pair file of reversed strings the test writes.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { Rng } from "../../lib/rng.ts";
import { tf } from "../../lib/tf.ts";
import { saveCheckpoint } from "../../lib/training/checkpoint.ts";
import { interruptAfterFirstEpoch, script, usageError } from "../_script.ts";

/** `n` lines `abc<TAB>cba` of 2-4 letters, from a seed. */
function reversals(n: number): string {
  const rng = new Rng(3);
  return Array.from({ length: n }, () => {
    const s = Array.from({ length: 2 + rng.int(3) }, () => "abcd"[rng.int(4)]).join("");
    return `${s}\t${[...s].reverse().join("")}\tCC-BY test`;
  }).join("\n") + "\n";
}

const TINY = [
  ...["--token", "char", "--normalize", "raw", "--min-freq", "1"],
  ...["--embedding-size", "8", "--hidden-size", "8", "--layers", "1"],
  ...["--batch-size", "16", "--lr", "0.02", "--backend", "cpu"],
];

Deno.test("translate trains, evaluates, translates and resumes with the --json contract", async () => {
  const dir = await Deno.makeTempDir();
  const data = `${dir}/pairs.txt`;
  await Deno.writeTextFile(data, reversals(60));
  const out = `${dir}/run`;
  const train = await script("translate", [
    ...["--data", data, "--out", out, "--epochs", "2", "--json"],
    ...TINY,
  ]);
  strictEqual(train.code, 0, train.stderr);
  const epochs = train.rows.filter((r) => r.event === "epoch");
  deepStrictEqual(epochs.map((r) => r.epoch), [1, 2]);
  for (const key of ["trainLoss", "validLoss", "targetTokensPerSec", "seconds", "backend"]) {
    ok(key in epochs[0], `epoch rows have ${key}`);
  }
  const evaluate = train.rows.at(-1)!;
  strictEqual(evaluate.event, "evaluate");
  strictEqual(evaluate.split, "valid");
  strictEqual(evaluate.examples, 6, "10% of 60 pairs validate");
  for (const key of ["bleu", "d2lBleu", "exactMatch", "loss", "sentencesPerSec"]) {
    ok(typeof evaluate[key] === "number", key);
  }
  for (const file of ["metrics.jsonl", "loss.svg", "bleu.txt", "attention.svg", "best"]) {
    await Deno.stat(`${out}/${file}`);
  }
  ok((await Deno.readTextFile(`${out}/attention.svg`)).startsWith("<svg"));

  // The best checkpoint scores the same again.
  const again = await script("translate", [
    ...["--evaluate", "--checkpoint", out, "--json", "--backend", "cpu"],
  ]);
  strictEqual(again.code, 0, again.stderr);
  deepStrictEqual([again.rows[0].bleu, again.rows[0].loss], [evaluate.bleu, evaluate.loss]);

  // Beam 2 with 2 translations per line; a tab gives a reference and a BLEU.
  const heatmap = `${dir}/abc.svg`;
  const translated = await script("translate", [
    ...["--checkpoint", out, "--translate", "abc", "--translate-file", "-"],
    ...["--beam", "2", "--n-best", "2", "--heatmap", heatmap, "--json"],
  ], "bad\tdab\n\n");
  strictEqual(translated.code, 0, translated.stderr);
  deepStrictEqual(translated.rows.map((r) => [r.event, r.source, r.rank]), [
    ["translate", "abc", 1],
    ["translate", "abc", 2],
    ["translate", "bad", 1],
    ["translate", "bad", 2],
  ]);
  ok(translated.rows.every((r) => typeof r.translation === "string" && Number.isFinite(r.score)));
  ok((translated.rows[0].score as number) >= (translated.rows[1].score as number), "best first");
  ok(typeof translated.rows[2].bleu === "number" && !("bleu" in translated.rows[0]));
  ok((await Deno.readTextFile(heatmap)).includes(">a</text>"), "source tokens on an axis");

  // --resume continues to the new --epochs, appending to the history.
  const resumed = await script("translate", ["--resume", out, "--epochs", "3", "--json"]);
  strictEqual(resumed.code, 0, resumed.stderr);
  deepStrictEqual(resumed.rows.filter((r) => r.event === "epoch").map((r) => r.epoch), [3]);
  const history = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n");
  strictEqual(history.length, 3);

  usageError(
    await script("translate", ["--data", data, "--out", out, ...TINY]),
    /^error: Cannot train into ".*": it holds another run/,
  );
  usageError(
    await script("translate", ["--resume", out, "--hidden-size", "16"]),
    /^error: Cannot resume with --hidden-size/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("translate refuses bad input with one line and exit 2", async () => {
  const dir = await Deno.makeTempDir();
  const run = (name: string, text: string, ...args: string[]) =>
    Deno.writeTextFile(`${dir}/${name}`, text).then(() =>
      script("translate", ["--data", `${dir}/${name}`, "--out", `${dir}/r-${name}`, ...args])
    );
  usageError(await run("notab.txt", "go .\tva !\nhello there\n"), /line 2 has no tab/);
  usageError(await run("empty.txt", "go .\tva !\n \tsalut\n"), /line 2 has an empty source/);
  usageError(await run("one.txt", "go .\tva !\n"), /it has 1 pair, expected at least 2/);
  usageError(
    await run("ok.txt", "go .\tva !\nhi .\tsalut !\n", "--beam", "0"),
    /"0" for --beam: expected an integer >= 1/,
  );
  usageError(
    await run("ok2.txt", "go .\tva !\nhi .\tsalut !\n", "--beam", "2", "--n-best", "3"),
    /--n-best 3: expected at most --beam \(2\)/,
  );
  usageError(
    await script("translate", ["--data", `${dir}/missing.txt`, "--out", `${dir}/r`]),
    /does not exist/,
  );

  // A checkpoint of another model kind.
  const other = `${dir}/lm`;
  const w = tf.zeros([1]);
  await saveCheckpoint(other, {
    kind: "classifier",
    weights: { w },
    config: {},
    vocab: null,
    progress: null,
  });
  w.dispose();
  usageError(
    await script("translate", ["--checkpoint", other, "--translate", "go ."]),
    /it holds a classifier model, expected seq2seq/,
  );
  usageError(
    await script("translate", ["--checkpoint", `${dir}/none`, "--translate", "go ."]),
    /^error: /,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("translate: SIGINT saves a checkpoint, exit 130, and --resume finishes the run", async () => {
  const dir = await Deno.makeTempDir();
  const data = `${dir}/pairs.txt`;
  await Deno.writeTextFile(data, reversals(200));
  const interrupted = await interruptAfterFirstEpoch("translate", [
    ...["--data", data, "--out", `${dir}/run`, "--epochs", "50", ...TINY],
  ]);
  strictEqual(interrupted.code, 130, interrupted.stderr);
  const stop = interrupted.rows.find((r) => r.event === "interrupted");
  ok(stop && stop.checkpoint === `${dir}/run/checkpoint`, interrupted.stdout);
  ok(/SIGINT: stopped at epoch \d+, step \d+/.test(interrupted.stderr), interrupted.stderr);
  const resumed = await script("translate", ["--resume", `${dir}/run`, "--epochs", "3", "--json"]);
  strictEqual(resumed.code, 0, resumed.stderr);
  strictEqual(resumed.rows.at(-1)!.event, "evaluate");
  const history = (await Deno.readTextFile(`${dir}/run/metrics.jsonl`)).trim().split("\n");
  strictEqual(history.length, 3, "every epoch once");
  await Deno.remove(dir, { recursive: true });
});
