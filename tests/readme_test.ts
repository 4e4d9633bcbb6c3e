/**
 * The README's library examples run as written: every ```ts block that imports
 * `mod.ts` by URL, in whatever section, is run from an empty directory with
 * the repository served over HTTP in place of its published URL, so that a
 * relative path or a file only a clone has fails here as it would for a user.
 */
import { ok, strictEqual } from "node:assert";
import { dirname, join } from "node:path";
import { startRepoServer } from "./_serve_repo.ts";

const ROOT = new URL("..", import.meta.url);

/** Where the README says the library lives; the test serves the repository there instead. */
const PUBLISHED = "https://raw.githubusercontent.com/OWNER/rnn-deno/main/";

/** The README's ```ts blocks that import mod.ts by URL, with the heading of their section. */
async function urlExamples(): Promise<{ section: string; code: string }[]> {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const examples: { section: string; code: string }[] = [];
  let section = "";
  for (const part of readme.split(/^(## .*)$/m)) {
    if (part.startsWith("## ")) section = part;
    for (const [, code] of part.matchAll(/```ts\n([\s\S]*?)```/g)) {
      if (/from "https?:[^"]+\/mod\.ts"/.test(code)) examples.push({ section, code });
    }
  }
  return examples;
}

Deno.test("README's import-by-URL examples run as written from an empty directory", async () => {
  const examples = await urlExamples();
  const library = examples.filter((e) => e.section === "## The library");
  strictEqual(library.length, 2, "the library section has two: cells, then a language model");
  await using server = startRepoServer();
  for (const { section, code } of examples) {
    const url = code.match(/from "(https?:[^"]+\/mod\.ts)"/)![1];
    strictEqual(url, `${PUBLISHED}mod.ts`, `${section}: the README's one library URL`);
    const dir = await Deno.makeTempDir({ prefix: "rnn_readme_" });
    try {
      for (let at = dir; at !== dirname(at); at = dirname(at)) {
        for (const name of ["deno.json", "deno.jsonc", "package.json"]) {
          const found = await Deno.stat(join(at, name)).then(() => true, () => false);
          ok(!found, `${join(at, name)} exists: the example would not run config-free`);
        }
      }
      const script = join(dir, "example.ts");
      await Deno.writeTextFile(script, code.replaceAll(PUBLISHED, `${server.origin}/`));
      const { code: exit, stderr } = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--check", // a user who type-checks their script sees what this one does
          `--allow-import=${server.host}`,
          `--allow-net=${server.host}`,
          "--allow-read",
          "--allow-write",
          "--allow-env",
          "--allow-sys",
          "--no-lock",
          `--reload=${server.origin}`,
          script,
        ],
        cwd: dir,
        stdout: "null",
        stderr: "piped",
        env: { NO_COLOR: "1", DENO_NO_PACKAGE_JSON: "1" },
      }).output();
      strictEqual(exit, 0, `${section}:\n${new TextDecoder().decode(stderr)}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("README names only files a clone has, and the licences are beside code and data", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const paths = [
    ...[...readme.matchAll(/\]\(([^)#]+)\)/g)].map((m) => m[1]),
    ...[...readme.matchAll(/`((?:\.\.\/|data\/|scripts\/|lib\/|tests\/)[\w./-]*\.\w+)`/g)].map((
      m,
    ) => m[1]),
  ].filter((p) => !/^[a-z]+:/.test(p));
  ok(paths.length > 0, "the README names some files");
  for (const path of paths) {
    ok(!path.startsWith("../"), `"${path}" is outside the repository`);
    ok(
      await Deno.stat(new URL(path, ROOT)).then(() => true, () => false),
      `"${path}" is named in README.md but missing`,
    );
  }
  const license = await Deno.readTextFile(new URL("LICENSE", ROOT));
  ok(license.startsWith("MIT License") && license.includes("rnn-deno contributors"), license);
  const dataReadme = await Deno.readTextFile(new URL("data/README.md", ROOT));
  for await (const entry of Deno.readDir(new URL("data/", ROOT))) {
    if (entry.name === "README.md" || entry.name.endsWith(".sha1")) continue;
    ok(dataReadme.includes(`\`${entry.name}`), `data/${entry.name} has no line in data/README.md`);
  }
  ok(dataReadme.includes("public domain") || dataReadme.includes("Public domain"));
});
