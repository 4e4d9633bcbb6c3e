import { ok } from "node:assert";

const ROOT = new URL("..", import.meta.url);

async function publicLibFiles(dir: URL, prefix = "lib/"): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith("_")) continue; // private helpers
    if (entry.isDirectory) {
      files.push(
        ...await publicLibFiles(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`),
      );
    } else if (entry.name.endsWith(".ts")) files.push(`${prefix}${entry.name}`);
  }
  return files;
}

/** Files reached from `file` by following its `export ... from` lines. */
async function reexported(file: URL, seen = new Set<string>()): Promise<Set<string>> {
  const text = await Deno.readTextFile(file);
  for (const [, target] of text.matchAll(/^export [^;]*? from "(\.[^"]+)";/gms)) {
    const url = new URL(target, file);
    const path = url.pathname.slice(ROOT.pathname.length);
    if (seen.has(path)) continue;
    seen.add(path);
    await reexported(url, seen);
  }
  return seen;
}

Deno.test("mod.ts re-exports every public lib/ file", async () => {
  const reached = await reexported(new URL("mod.ts", ROOT));
  const files = await publicLibFiles(new URL("lib/", ROOT));
  ok(files.length > 10);
  const missing = files.filter((file) => !reached.has(file));
  ok(missing.length === 0, `not reachable from mod.ts: ${missing.join(", ")}`);
});

Deno.test("mod.ts only re-exports", async () => {
  const mod = await Deno.readTextFile(new URL("mod.ts", ROOT));
  const code = mod.replace(/\/\*\*[\s\S]*?\*\//g, "").replace(
    /export (type )?(\{[^}]*\}|\*) from "[^"]+";/g,
    "",
  );
  ok(code.trim() === "", `mod.ts has more than re-exports: ${code.trim().slice(0, 80)}`);
});

/** `deno doc --json mod.ts`: the public API as Deno documents it. */
async function publicSymbols(): Promise<
  {
    name: string;
    declarations: {
      kind: string;
      location: { filename: string; line: number };
      jsDoc?: { tags?: { kind: string }[] };
    }[];
  }[]
> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", "mod.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  ok(code === 0, new TextDecoder().decode(stderr));
  const doc = JSON.parse(new TextDecoder().decode(stdout));
  return Object.values(doc.nodes as Record<string, { symbols: never[] }>)[0].symbols;
}

Deno.test("every public function and class has an @example (deno test --doc runs them)", async () => {
  const missing: string[] = [];
  for (const symbol of await publicSymbols()) {
    for (const declaration of symbol.declarations) {
      if (declaration.kind !== "function" && declaration.kind !== "class") continue;
      const tags = declaration.jsDoc?.tags ?? [];
      if (!tags.some((tag) => tag.kind === "example")) {
        const file = declaration.location.filename.slice(ROOT.href.length);
        missing.push(`${symbol.name} (${file}:${declaration.location.line})`);
      }
    }
  }
  ok(
    missing.length === 0,
    `public functions and classes without an @example:\n${missing.join("\n")}`,
  );
});

Deno.test("deno doc --lint mod.ts finds nothing: every public symbol documented, no private types", async () => {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", "mod.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(stderr);
  ok(code === 0, text.split("\n").filter((l) => /^error|-->/.test(l)).slice(0, 40).join("\n"));
});

Deno.test("mod.ts's tf is the same TensorFlow.js as the pinned npm specifier a user imports", async () => {
  const { tf } = await import("../mod.ts");
  const tfjs = await import("npm:@tensorflow/tfjs@4.22.0");
  ok(tf.engine() === tfjs.engine(), "two tfjs engines: tensors of one would not run on the other");
  ok(tf.Tensor === tfjs.Tensor);
});
