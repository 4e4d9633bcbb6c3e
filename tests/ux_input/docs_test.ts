/**
 * Issue 21, item 16: the README's figures and commands match what ships.
 */
import { deepStrictEqual, strictEqual } from "node:assert";
import { loadLabelled } from "../../lib/supervised/labelled.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const README = await Deno.readTextFile(`${ROOT}README.md`);

Deno.test("the README's count of names is what the loader finds", async () => {
  const data = await loadLabelled(`${ROOT}data/names`);
  const said = README.match(/`data\/names\/` holds ([\d,]+) surnames/)?.[1];
  strictEqual(said, data.examples.length.toLocaleString("en-US"));
  const distinct = new Set(data.examples.map((e) => `${e.label}\t${e.text}`)).size;
  strictEqual(
    README.includes(`${distinct.toLocaleString("en-US")} distinct (name, language)`),
    true,
  );
});

Deno.test("every file the README's commands read with --*-file ships (or is stdin)", async () => {
  const missing: string[] = [];
  for (const [, path] of README.matchAll(/--(?:translate|predict)-file ([^\s`]+)/g)) {
    if (path === "-" || path.toUpperCase() === path) continue; // stdin, or a placeholder
    if (!await Deno.stat(`${ROOT}${path}`).then(() => true, () => false)) missing.push(path);
  }
  deepStrictEqual(missing, []);
});
