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
