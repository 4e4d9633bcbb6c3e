/** The README's library example runs as written (with mod.ts imported locally). */
import { ok, strictEqual } from "node:assert";

const ROOT = new URL("..", import.meta.url);

Deno.test("README's import-by-URL examples run", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const section = readme.slice(readme.indexOf("## The library"), readme.indexOf("## Backends"));
  const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  strictEqual(blocks.length, 2, "two examples: cells, then a language model");
  for (const code of blocks) await runExample(code);
});

async function runExample(code: string): Promise<void> {
  const url = code.match(/from "(https:[^"]+\/mod\.ts)"/)?.[1];
  ok(url, "the example imports mod.ts by URL");
  const dir = await Deno.makeTempDir();
  const script = `${dir}/example.ts`;
  await Deno.writeTextFile(script, code.replace(url, new URL("mod.ts", ROOT).href));
  const { code: exit, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script],
    cwd: new URL(".", ROOT).pathname,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  strictEqual(exit, 0, new TextDecoder().decode(stderr));
  await Deno.remove(dir, { recursive: true });
}
