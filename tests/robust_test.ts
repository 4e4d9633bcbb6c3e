/**
 * Robustness: checkpoints survive SIGKILL mid-write, the task scripts refuse
 * hostile input with exit code 2 and one line, a 100 MB single-line corpus
 * loads in bounded memory, and damaged checkpoints are refused.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { loadCheckpoint } from "../lib/training/checkpoint.ts";
import { loadCorpus } from "../lib/corpus/load.ts";
import { tf, useBackend } from "../lib/tf.ts";
import { type Run, script } from "./_script.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/**
 * Exit code 2 and exactly one stderr line, `error: ...`, matching `problem`.
 * With `progressBefore`, progress lines may come first: the error is then the
 * last line and the only one starting `error:`.
 */
function assertUsageError(run: Run, problem: RegExp, what: string): void {
  strictEqual(run.code, 2, `${what}: exit code (stderr: ${run.stderr})`);
  const lines = run.stderr.split("\n").filter((line) => line !== "");
  const errors = lines.filter((line) => line.startsWith("error"));
  strictEqual(errors.length, 1, `${what}: one error line, got ${JSON.stringify(lines)}`);
  strictEqual(lines.length, 1, `${what}: one stderr line, got ${JSON.stringify(lines)}`);
  const last = lines.at(-1)!;
  ok(last.startsWith("error: "), `${what}: ${last}`);
  ok(problem.test(last), `${what}: ${last} should match ${problem}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw error;
  }
}

async function smallCorpus(dir: string): Promise<string> {
  const text = await Deno.readTextFile(`${ROOT}data/timemachine.txt`);
  const path = `${dir}/small.txt`;
  await Deno.writeTextFile(path, text.slice(0, 12000));
  return path;
}

const TINY = [
  "--epochs",
  "1",
  "--hidden-size",
  "16",
  "--batch-size",
  "4",
  "--num-steps",
  "8",
  "--backend",
  "cpu",
];

// ------------------------------------------------------------ kill mid-write

/** Tensors of the writer: 4 x 2^18 float32 = 4 MiB, each filled with the version. */
const WRITER = `
import { saveCheckpoint } from ${
  JSON.stringify(new URL("../lib/training/checkpoint.ts", import.meta.url).href)
};
import { tf, useBackend } from ${JSON.stringify(new URL("../lib/tf.ts", import.meta.url).href)};
await useBackend("cpu");
const [dir, first] = [Deno.args[0], Number(Deno.args[1])];
const encoder = new TextEncoder();
for (let version = first; ; version++) {
  const weights = {};
  for (let i = 0; i < 4; i++) weights["w" + i] = tf.fill([512, 512], version);
  const optimizer = { m: tf.fill([1024], version) };
  await Deno.stdout.write(encoder.encode("start " + version + "\\n"));
  await saveCheckpoint(dir, { weights, optimizer, config: { version }, vocab: [], progress: { version } });
  await Deno.stdout.write(encoder.encode("saved " + version + "\\n"));
  tf.dispose([...Object.values(weights), optimizer.m]);
}
`;

/** Reads the child's stdout lines into `lines`, calling `onLine` for each. */
async function collectLines(
  stream: ReadableStream<Uint8Array>,
  lines: string[],
  onLine: (line: string) => void,
): Promise<void> {
  let buffer = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    buffer += text;
    let at;
    while ((at = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, at);
      buffer = buffer.slice(at + 1);
      lines.push(line);
      onLine(line);
    }
  }
}

Deno.test("a checkpoint killed mid-write still loads as one complete version", async () => {
  await useBackend("cpu");
  const tmp = await Deno.makeTempDir();
  try {
    const writer = `${tmp}/writer.ts`;
    await Deno.writeTextFile(writer, WRITER);
    const dir = `${tmp}/ckpt`;
    const started = new Set<number>();
    for (let run = 0; run < 5; run++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", writer, dir, String(run * 100_000 + 1)],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const lines: string[] = [];
      let firstSaved!: () => void;
      const saved = new Promise<void>((resolve) => firstSaved = resolve);
      const reading = collectLines(child.stdout, lines, (line) => {
        const [event, version] = line.split(" ");
        if (event === "start") started.add(Number(version));
        if (event === "saved") firstSaved();
      });
      const stderr = new Response(child.stderr).text();
      // The first save proves the writer runs; then kill it at a random moment.
      const exited = child.status.then((status) => {
        firstSaved();
        return status;
      });
      await saved;
      const delay = 200 + Math.floor(Math.random() * 1300);
      await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        child.kill("SIGKILL");
      } catch { /* already exited: reported below */ }
      const status = await exited;
      await reading;
      const errors = await stderr;
      strictEqual(status.signal, "SIGKILL", `writer exited by itself: ${errors}`);
      ok(lines.some((line) => line.startsWith("saved ")), `run ${run}: no save finished`);

      const loaded = await loadCheckpoint(dir);
      try {
        const version = (loaded.progress as { version: number }).version;
        ok(started.has(version), `run ${run} (killed after ${delay} ms): version ${version}`);
        deepStrictEqual(loaded.config, { version });
        for (const [name, tensor] of Object.entries({ ...loaded.weights, ...loaded.optimizer })) {
          const values = await tensor.data();
          ok(
            values.every((v) => v === version),
            `run ${run} (killed after ${delay} ms): ${name} is not all ${version}`,
          );
        }
        deepStrictEqual(Object.keys(loaded.weights).sort(), ["w0", "w1", "w2", "w3"]);
        deepStrictEqual(loaded.weights.w0.shape, [512, 512]);
      } finally {
        tf.dispose([...Object.values(loaded.weights), ...Object.values(loaded.optimizer)]);
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

// ------------------------------------------------------- hostile train input

Deno.test("train refuses hostile input with exit code 2, one line and nothing written", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const small = await smallCorpus(tmp);
    const random = new Uint8Array(20_000);
    crypto.getRandomValues(random);
    random[0] = 0xff; // never valid UTF-8, whatever the draw
    await Deno.writeFile(`${tmp}/random.bin`, random);
    await Deno.writeTextFile(`${tmp}/empty.txt`, "");
    await Deno.writeTextFile(`${tmp}/digits.txt`, "123 456 !!! ,,, 789 -- 0\n".repeat(200));
    await Deno.mkdir(`${tmp}/a-directory`);
    await Deno.writeTextFile(`${tmp}/file.txt`, "a regular file\n");

    const cases: { name: string; corpus: string; out: string; problem: RegExp }[] = [
      { name: "random bytes", corpus: `${tmp}/random.bin`, out: `${tmp}/out1`, problem: /UTF-8/ },
      {
        name: "a directory",
        corpus: `${tmp}/a-directory`,
        out: `${tmp}/out2`,
        problem: /a-directory.*directory/,
      },
      {
        name: "an empty file",
        corpus: `${tmp}/empty.txt`,
        out: `${tmp}/out3`,
        problem: /no .*tokens/,
      },
      {
        name: "no letters",
        corpus: `${tmp}/digits.txt`,
        out: `${tmp}/out4`,
        problem: /no .*tokens.*d2l/,
      },
      {
        name: "--out under a regular file",
        corpus: small,
        out: `${tmp}/file.txt/run`,
        problem: /file\.txt\/run.*[Nn]ot a directory/,
      },
    ];
    const runs = await Promise.all(
      cases.map(({ corpus, out }) => script("train", ["--corpus", corpus, "--out", out, ...TINY])),
    );
    for (const [i, { name, out, problem }] of cases.entries()) {
      assertUsageError(runs[i], problem, name);
      strictEqual(runs[i].stdout, "", `${name}: stdout`);
      ok(!(await exists(out)), `${name}: ${out} was created`);
    }
    // Nothing else appeared next to the inputs (no run directory, no leftovers).
    const entries: string[] = [];
    for await (const entry of Deno.readDir(tmp)) entries.push(entry.name);
    deepStrictEqual(entries.sort(), [
      "a-directory",
      "digits.txt",
      "empty.txt",
      "file.txt",
      "random.bin",
      "small.txt",
    ]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test({
  name: "train gives a bad --out one stderr line and no progress",
  async fn() {
    const tmp = await Deno.makeTempDir();
    try {
      const small = await smallCorpus(tmp);
      await Deno.writeTextFile(`${tmp}/file.txt`, "a regular file\n");
      const run = await script("train", [
        "--corpus",
        small,
        "--out",
        `${tmp}/file.txt/run`,
        ...TINY,
      ]);
      assertUsageError(run, /file\.txt\/run/, "--out under a regular file");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

// ------------------------------------------------------ a 100 MB single line

Deno.test("a 100 MB corpus on one line loads in bounded memory, char and word", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const path = `${tmp}/one-line.txt`;
    const repeats = 131_072; // "abc def " x 131072 = 1 MiB
    const chunks = 100;
    const chunk = new TextEncoder().encode("abc def ".repeat(repeats));
    {
      using file = await Deno.open(path, { write: true, createNew: true });
      for (let i = 0; i < chunks; i++) {
        for (let done = 0; done < chunk.length;) done += await file.write(chunk.subarray(done));
      }
    }
    const pairs = repeats * chunks;
    // d2l normalisation strips the line, so the final space goes.
    const expected = { char: pairs * 8 - 1, word: pairs * 2 };
    for (const token of ["char", "word"] as const) {
      const before = Deno.memoryUsage().rss;
      let peak = before;
      const timer = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 10);
      try {
        const corpus = await loadCorpus({ source: path, token, validFraction: 0.1 });
        try {
          peak = Math.max(peak, Deno.memoryUsage().rss);
          strictEqual(corpus.tokens, expected[token], `${token} tokens`);
          strictEqual(corpus.bytes, chunk.length * chunks);
          strictEqual(corpus.train.length + corpus.valid.length, expected[token]);
          deepStrictEqual(
            corpus.vocab.tokens,
            token === "char"
              ? ["<unk>", " ", "a", "b", "c", "d", "e", "f"]
              : ["<unk>", "abc", "def"],
          );
          const head = corpus.vocab.decode(corpus.train.read(0, token === "char" ? 9 : 3));
          strictEqual(head, token === "char" ? "abc def a" : "abc def abc");
        } finally {
          corpus.close();
        }
      } finally {
        clearInterval(timer);
      }
      const growthMB = (peak - before) / 2 ** 20;
      ok(growthMB < 300, `${token}: RSS grew ${growthMB.toFixed(0)} MB while loading 100 MB`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

// --------------------------------------------------------- damaged checkpoints

Deno.test("evaluate and sample refuse a damaged checkpoint with exit code 2 and one line", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const corpus = await smallCorpus(tmp);
    const train = await script("train", ["--corpus", corpus, "--out", `${tmp}/run`, ...TINY]);
    strictEqual(train.code, 0, train.stderr);
    const checkpoint = `${tmp}/run/checkpoint`;
    const bin = await Deno.readFile(`${checkpoint}/weights.bin`);
    const manifest = JSON.parse(await Deno.readTextFile(`${checkpoint}/manifest.json`));

    const damage: Record<string, { problem: RegExp; apply(dir: string): Promise<void> }> = {
      truncated: {
        problem: /weights\.bin is \d+ bytes.*truncated/,
        apply: (dir) => Deno.writeFile(`${dir}/weights.bin`, bin.slice(0, bin.length - 100)),
      },
      "a flipped byte": {
        problem: /weights\.bin has SHA-256.*(changed|damaged)/,
        apply: (dir) => {
          const flipped = bin.slice();
          flipped[Math.floor(flipped.length / 3)] ^= 0x01;
          return Deno.writeFile(`${dir}/weights.bin`, flipped);
        },
      },
      "formatVersion 999": {
        problem: /formatVersion.*999/,
        apply: (dir) =>
          Deno.writeTextFile(
            `${dir}/manifest.json`,
            JSON.stringify({ ...manifest, formatVersion: 999 }),
          ),
      },
    };
    const jobs: Promise<[string, Run]>[] = [];
    for (const [name, { apply }] of Object.entries(damage)) {
      const dir = `${tmp}/${name.replaceAll(" ", "-")}`;
      await Deno.mkdir(dir);
      await Deno.copyFile(`${checkpoint}/weights.bin`, `${dir}/weights.bin`);
      await Deno.copyFile(`${checkpoint}/manifest.json`, `${dir}/manifest.json`);
      await apply(dir);
      const flags = ["--checkpoint", dir, "--backend", "cpu"];
      jobs.push(script("evaluate", [...flags, "--corpus", corpus]).then((r) => [name, r]));
      jobs.push(
        script("sample", [...flags, "--prefix", "the", "--length", "5"]).then((r) => [
          name,
          r,
        ]),
      );
    }
    const runs = await Promise.all(jobs);
    strictEqual(runs.length, 6);
    for (const [i, [name, run]] of runs.entries()) {
      const what = `${i % 2 ? "sample" : "evaluate"} on ${name}`;
      assertUsageError(run, damage[name].problem, what);
      strictEqual(run.stdout, "", `${what}: stdout`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
