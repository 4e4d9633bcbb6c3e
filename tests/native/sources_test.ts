import { strictEqual } from "node:assert";
import { KERNELS_C } from "../../lib/native/_sources.ts";

const SOURCE = new URL("../../lib/native/kernels.c", import.meta.url);
const EMBEDDED = new URL("../../lib/native/_sources.ts", import.meta.url);

/** The text of `_sources.ts` for the current `kernels.c`. */
function embedding(text: string): string {
  return [
    "/**",
    " * `kernels.c`, embedded so that the sources come with the module graph (a",
    " * `mod.ts` imported by URL needs no read or net permission for them).",
    " * Generated: after editing kernels.c, run",
    " * `UPDATE_NATIVE=1 deno test --allow-read --allow-write --allow-env tests/native/sources_test.ts`.",
    " *",
    " * @module",
    " */",
    "",
    "/** The C source of the native kernels. */",
    // Broken after "=" and indented as `deno fmt` lays out a long string: regenerating leaves
    // the file formatted.
    "export const KERNELS_C: string =",
    `  ${JSON.stringify(text)};`,
    "",
  ].join("\n");
}

if (Deno.env.get("UPDATE_NATIVE") === "1") {
  await Deno.writeTextFile(EMBEDDED, embedding(await Deno.readTextFile(SOURCE)));
}

const STALE =
  "stale: UPDATE_NATIVE=1 deno test --allow-read --allow-write --allow-env tests/native/sources_test.ts";

Deno.test("lib/native/_sources.ts embeds kernels.c as it is, in the generator's exact text", async () => {
  const source = await Deno.readTextFile(SOURCE);
  strictEqual(KERNELS_C, source, STALE);
  strictEqual(await Deno.readTextFile(EMBEDDED), embedding(source), STALE);
});

Deno.test({
  name: "the generated lib/native/_sources.ts is as deno fmt lays it out",
  // Needs to run deno; the suite's flags allow it.
  ignore: Deno.permissions.querySync({ name: "run" }).state !== "granted",
  fn: async () => {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--check", EMBEDDED.pathname],
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    strictEqual(code, 0, new TextDecoder().decode(stderr).slice(-400));
  },
});
