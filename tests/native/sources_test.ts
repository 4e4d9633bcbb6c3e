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
    `export const KERNELS_C: string = ${JSON.stringify(text)};`,
    "",
  ].join("\n");
}

if (Deno.env.get("UPDATE_NATIVE") === "1") {
  await Deno.writeTextFile(EMBEDDED, embedding(await Deno.readTextFile(SOURCE)));
}

Deno.test("lib/native/_sources.ts embeds kernels.c as it is", async () => {
  strictEqual(
    KERNELS_C,
    await Deno.readTextFile(SOURCE),
    "stale: UPDATE_NATIVE=1 deno test --allow-read --allow-write --allow-env tests/native/sources_test.ts",
  );
});
