/**
 * Issue 21, item 8, through the real CLI: repeated (text, label) pairs are
 * dropped before the split (and counted on stderr), a text with two labels
 * keeps all its copies in one part, a label too small for the split is
 * warned about, and no held-out text is also a training text.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { binaryWords } from "./_fixtures.ts";
import { script } from "../_script.ts";

Deno.test("classify drops repeated examples before splitting, keeps a text in one part and warns of tiny labels", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/data`);
  const words = (x: string, y: string) => binaryWords(30, x, y);
  const a = words("a", "b"), b = words("c", "d");
  // 10 repeats in A, "shared" in A and B (twice in B), and a label C of 2 names.
  await Deno.writeTextFile(`${dir}/data/A.txt`, [...a, ...a.slice(0, 10), "shared"].join("\n"));
  await Deno.writeTextFile(`${dir}/data/B.txt`, [...b, "shared", "shared"].join("\n"));
  await Deno.writeTextFile(`${dir}/data/C.txt`, "ef\nfe\n");
  const out = `${dir}/run`;
  const run = await script("classify", [
    ...["--data", `${dir}/data`, "--out", out, "--epochs", "1", "--json", "--backend", "cpu"],
    ...["--hidden-size", "8", "--embedding-size", "4", "--batch-size", "16"],
  ]);
  strictEqual(run.code, 0, run.stderr);
  ok(
    run.stderr.includes(
      "notice: dropped 11 repeated (text, label) examples of 75; 1 text carries more than one " +
        "label (all its copies are in one part of the split)",
    ),
    run.stderr,
  );
  ok(
    run.stderr.includes(
      'warning: label "C" has 2 examples, too few for the split: none in valid, none in test ' +
        "(at least 3 needed)",
    ),
    run.stderr,
  );
  const split = JSON.parse(await Deno.readTextFile(`${out}/split.json`));
  strictEqual(split.dropped.length, 11);
  strictEqual(split.multiLabelTexts, 1);
  const texts = [...a, ...a.slice(0, 10), "shared", ...b, "shared", "shared", "ef", "fe"];
  const held = new Set<number>([...split.valid, ...split.test, ...split.dropped]);
  const train = new Set(texts.filter((_, i) => !held.has(i)));
  deepStrictEqual([...split.test, ...split.valid].filter((i) => train.has(texts[i])), []);
  const counts = split.counts.flat().reduce((x: number, y: number) => x + y, 0);
  strictEqual(counts, 75 - 11);
  await Deno.remove(dir, { recursive: true });
});
