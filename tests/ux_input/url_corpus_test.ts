/**
 * Issue 21, item 16: what the README says of `bundledCorpus` when `mod.ts` is
 * imported by http(s) URL: it is a URL corpus, so loading it needs
 * `--allow-net` for that host and `--allow-write` for the corpus cache.
 */
import { ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { startRepoServer } from "../_serve_repo.ts";

Deno.test("bundledCorpus over a URL import is a URL corpus: --allow-net and --allow-write load it", async () => {
  await using server = startRepoServer();
  const dir = await Deno.makeTempDir({ prefix: "rnn_url_corpus_" });
  const script = join(dir, "main.ts");
  await Deno.writeTextFile(
    script,
    `import * as rnn from "${server.origin}/mod.ts";
const source = rnn.bundledCorpus("timemachine");
const corpus = await rnn.loadCorpus({ source });
console.log(JSON.stringify({ source, tokens: corpus.train.length + corpus.valid.length }));
corpus.close();
`,
  );
  const run = (...allow: string[]) =>
    new Deno.Command(Deno.execPath(), {
      // The README's minimal set, then what a URL corpus adds; no deno.json, no lock.
      args: ["run", `--allow-import=${server.host}`, "--allow-read", "--allow-env", "--allow-sys"]
        .concat(allow, ["--no-lock", `--reload=${server.origin}`, script]),
      ...{ cwd: dir, stdout: "piped", stderr: "piped" } as const,
      env: { NO_COLOR: "1", DENO_NO_PACKAGE_JSON: "1" },
    }).output();
  const denied = await run();
  const refusal = new TextDecoder().decode(denied.stderr);
  ok(denied.code !== 0 && /net/i.test(refusal), `without --allow-net: ${refusal}`);
  const loaded = await run(`--allow-net=${server.host}`, "--allow-write");
  const stdout = new TextDecoder().decode(loaded.stdout);
  strictEqual(loaded.code, 0, new TextDecoder().decode(loaded.stderr));
  const row = JSON.parse(stdout.trim().split("\n").at(-1)!);
  ok(row.source.startsWith(`${server.origin}/data/timemachine.txt`), row.source);
  ok(row.tokens > 100_000, stdout);
  await Deno.remove(dir, { recursive: true });
});
