/**
 * Issue 21 through `deno task classify`, `generate` and `translate` as a user
 * runs them: --resume trains to the run's own total (item 3), checkpoint
 * folders refused (5), path flags checked first (13), status lines and
 * progress (15), defaults and --condition suggestions (17).
 */
import { ok, strictEqual } from "node:assert";
import { interruptAfterFirstEpoch, script, usageError } from "../_script.ts";
import { Rng } from "../../lib/rng.ts";

const LABELLED = [
  ...["--hidden-size", "8", "--embedding-size", "4", "--batch-size", "16", "--backend", "cpu"],
];
const PAIRS = [
  ...["--token", "char", "--normalize", "raw", "--min-freq", "1"],
  ...["--embedding-size", "8", "--hidden-size", "8", "--layers", "1"],
  ...["--batch-size", "16", "--lr", "0.02", "--backend", "cpu"],
];

/** `n` lines `abc<TAB>cba` of 2-4 letters. */
function reversals(n: number): string {
  const rng = new Rng(3);
  return Array.from({ length: n }, () => {
    const s = Array.from({ length: 2 + rng.int(3) }, () => "abcd"[rng.int(4)]).join("");
    return `${s}\t${[...s].reverse().join("")}`;
  }).join("\n") + "\n";
}

/** Two labels: words of a and b ("Alt"), and of c and d ("Dbl"). */
async function tinyFolder(dir: string): Promise<string> {
  const rng = new Rng(5);
  const words = (letters: string) =>
    Array.from(
      { length: 40 },
      () => Array.from({ length: 3 + rng.int(5) }, () => letters[rng.int(2)]).join(""),
    ).join("\n");
  await Deno.mkdir(`${dir}/data`);
  await Deno.writeTextFile(`${dir}/data/Alt.txt`, words("ab"));
  await Deno.writeTextFile(`${dir}/data/Dbl.txt`, words("cd"));
  return `${dir}/data`;
}

const epochsIn = async (run: string) =>
  (await Deno.readTextFile(`${run}/metrics.jsonl`)).trim().split("\n").length;

Deno.test("translate --resume trains to the run's own total epochs and says 'resuming at epoch E of N'", async () => {
  const dir = await Deno.makeTempDir();
  const data = `${dir}/pairs.txt`;
  await Deno.writeTextFile(data, reversals(200));
  const out = `${dir}/run`;
  const stopped = await interruptAfterFirstEpoch("translate", [
    ...["--data", data, "--out", out, "--epochs", "4", "--patience", "0", ...PAIRS],
  ]);
  strictEqual(stopped.code, 130, stopped.stderr);
  const at = /SIGINT: stopped at epoch (\d+), step (\d+) of (\d+);/.exec(stopped.stderr);
  ok(at && Number(at[3]) >= Number(at[2]), stopped.stderr);
  usageError(
    await script("translate", ["--resume", `${out}/best`]),
    /it is a checkpoint folder, not a run folder.*--resume .*\/run$/,
  );
  const resumed = await script("translate", ["--resume", out]);
  strictEqual(resumed.code, 0, resumed.stderr);
  ok(resumed.stderr.includes(`resuming at epoch ${at![1]} of 4`), resumed.stderr);
  strictEqual(await epochsIn(out), 4, "the run's own 4 epochs, not the default 30");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("classify takes the shared loop's flags, records its total for --resume, and tells epochs trained from the best epoch", async () => {
  const dir = await Deno.makeTempDir();
  const data = await tinyFolder(dir);
  const out = `${dir}/run`;
  const first = await script("classify", [
    ...["--data", data, "--out", out, "--epochs", "2", "--patience", "0", ...LABELLED],
    ...["--lr-schedule", "step", "--warmup-steps", "2", "--weight-decay", "0.01"],
    ...["--checkpoint-every", "2"],
  ]);
  strictEqual(first.code, 0, first.stderr);
  const saved = JSON.parse(await Deno.readTextFile(`${out}/checkpoint/manifest.json`)).config;
  strictEqual(saved.train.lrSchedule, "step", "the shared loop's flags reach classify's run");
  strictEqual(saved.train.weightDecay, 0.01);
  strictEqual(saved.train.epochs, 2, "the run records its total");
  ok(/run: .*; 2 epoch\(s\) trained, best epoch [12] /.test(first.stdout), first.stdout);
  ok(/epoch 1\/2 done: \d+ steps in [\d.]+s, run ETA/.test(first.stderr), first.stderr);
  // Resuming a finished run trains no further epoch: its total was 2, not the default 10.
  const resumed = await script("classify", ["--resume", out]);
  strictEqual(resumed.code, 0, resumed.stderr);
  ok(resumed.stderr.includes("resuming after all 2 epochs: nothing left"), resumed.stderr);
  strictEqual(await epochsIn(out), 2);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("classify and translate stop early by default; generate suggests the nearest --condition", async () => {
  for (const name of ["classify", "translate"]) {
    const help = await script(name, ["--help"]);
    ok(/--patience <int>[^\n]*\n?[^-]*\(default: 3\)/.test(help.stdout), help.stdout);
  }
  const dir = await Deno.makeTempDir();
  const data = await tinyFolder(dir);
  usageError(
    await script("generate", [
      "--data",
      data,
      "--out",
      `${dir}/g`,
      "--condition",
      "Dbll",
      ...LABELLED,
    ]),
    /--condition "Dbll": it is not a label \(did you mean "Dbl"\?\)/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("translate: --out '' and a --heatmap that cannot be written are usage errors, checked first", async () => {
  const dir = await Deno.makeTempDir();
  usageError(await script("translate", ["--out", ""]), /^error: Invalid value "" for --out/);
  usageError(await script("classify", ["--out", ""]), /--out/);
  const missing = `${dir}/no-such-run`; // checked before the checkpoint is even read
  usageError(
    await script("translate", ["--checkpoint", missing, "--translate", "ab", "--heatmap", dir]),
    /^error: Invalid --heatmap ".*": it is a directory/,
  );
  usageError(
    await script("translate", [
      ...["--checkpoint", missing, "--translate", "ab", "--heatmap", "/sys/map.svg"],
    ]),
    /^error: Invalid --heatmap "\/sys\/map.svg": cannot write in "\/sys"/,
  );
  await Deno.remove(dir, { recursive: true });
});
