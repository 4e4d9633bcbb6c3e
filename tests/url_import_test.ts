import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { dirname, join } from "node:path";
import { serveRepo } from "./_serve_repo.ts";
import { NATIVE } from "./_native.ts";

/** The script a user would write: it knows nothing of the repository but its URL. */
function userScript(origin: string, names: string[]): string {
  return `
import * as rnn from "${origin}/mod.ts";

const V = 5;
const T = 8;
// A repeating sequence 0 1 2 3 4 0 1 2 ... that a tiny model learns fast.
const ids = Int32Array.from({ length: T + 1 }, (_, i) => i % V);
const batch = { x: ids.slice(0, T), y: ids.slice(1), batchSize: 1, numSteps: T };

for (const name of ${JSON.stringify(names)}) {
  const info = await rnn.useBackend(name);
  const model = new rnn.LanguageModel(
    rnn.modelConfig({ vocabSize: V, cell: "gru", hiddenSize: 16, seed: 1 }),
  );
  const optimizer = rnn.makeOptimizer("adam", 0.05);
  const losses = [];
  for (let i = 0; i < 20; i++) {
    const { loss, gradNorm, state } = rnn.trainStep(model, optimizer, batch, undefined);
    losses.push((await loss.data())[0]);
    rnn.tf.dispose([loss, gradNorm]);
    rnn.disposeStates(state);
  }
  optimizer.dispose();
  const sample = [];
  for await (const id of rnn.generate(model, [0, 1], { length: 6, rng: new rnn.Rng(3), greedy: true })) {
    sample.push(id);
  }
  model.dispose();
  console.log(JSON.stringify({ backend: info.name, losses, sample }));
}
`;
}

Deno.test("mod.ts trains and samples when imported by URL from a directory with no deno.json", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, serveRepo);
  const dir = await Deno.makeTempDir({ prefix: "rnn_url_import_" });
  try {
    const host = `127.0.0.1:${server.addr.port}`;
    const origin = `http://${host}`;

    // The server itself: types, 404s and refusals.
    const mod = await fetch(`${origin}/mod.ts`);
    strictEqual(mod.headers.get("content-type"), "application/typescript");
    ok((await mod.text()).includes("export"));
    const missing = await fetch(`${origin}/no/such/file.ts`);
    await missing.body?.cancel();
    strictEqual(missing.status, 404);
    const escape = await fetch(`${origin}/lib/..%2F..%2F..%2Fetc%2Fpasswd`);
    await escape.body?.cancel();
    strictEqual(escape.status, 400);

    // Deno looks for a config file in every ancestor: there must be none.
    for (let at = dir; at !== dirname(at); at = dirname(at)) {
      for (const name of ["deno.json", "deno.jsonc"]) {
        const found = await Deno.stat(join(at, name)).then(() => true, () => false);
        ok(!found, `${join(at, name)} exists: the script would not run config-free`);
      }
    }

    const script = join(dir, "main.ts");
    // native too where a compiler is found: its C source comes with the module graph.
    const names = ["wasm", "cpu", ...NATIVE];
    await Deno.writeTextFile(script, userScript(origin, names));
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-import=${host}`,
        "--allow-read",
        "--allow-env",
        "--allow-sys",
        "--allow-ffi",
        "--allow-run",
        "--allow-write",
        `--allow-net=${host}`,
        "--no-lock",
        // The OS may hand out a port used by an earlier run; never reuse its cached modules.
        `--reload=${origin}`,
        script,
      ],
      cwd: dir,
      env: { NO_COLOR: "1", DENO_NO_PACKAGE_JSON: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    strictEqual(output.code, 0, `the script failed:\n${stderr}\n${stdout}`);
    ok(!stderr.includes("running TensorFlow.js in Node.js"), `lib/ prints nothing: ${stderr}`);

    const lines = stdout.trim().split("\n").map((line) => JSON.parse(line));
    deepStrictEqual(lines.map((line) => line.backend), names);
    for (const { backend, losses, sample } of lines) {
      strictEqual(losses.length, 20);
      ok(losses.every(Number.isFinite), `${backend}: non-finite loss in ${losses}`);
      ok(
        losses.at(-1) < losses[0] * 0.5,
        `${backend}: loss did not go down: ${losses[0]} -> ${losses.at(-1)}`,
      );
      // Greedy after the prefix 0 1: the sequence it learned, six tokens long.
      deepStrictEqual(sample, [2, 3, 4, 0, 1, 2], `${backend}: unexpected sample`);
    }
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
