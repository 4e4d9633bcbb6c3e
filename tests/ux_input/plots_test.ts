/**
 * Issue 21, item 14: the attention heat map makes room for its title and
 * keeps the rotated source tokens below it; accuracy.svg keeps its series
 * labels inside the chart. Widths by `estimateTextWidth` (checked against
 * rsvg-convert renderings when this was fixed).
 */
import { ok, strictEqual } from "node:assert";
import { estimateTextWidth, metricPlotSvg } from "../../lib/training/plot.ts";
import { reversalPairs } from "./_fixtures.ts";
import { script } from "../_script.ts";

const number = (svg: string, attribute: string) =>
  Number(svg.match(new RegExp(`<svg[^>]*\\s${attribute}="([\\d.]+)"`))![1]);

Deno.test("translate --heatmap: the map is as wide as its title and the source tokens stay below it", async () => {
  const dir = await Deno.makeTempDir();
  await reversalPairs(dir);
  const run = `${dir}/run`;
  const train = await script("translate", [
    ...["--data", `${dir}/pairs.txt`, "--out", run, "--token", "word", "--normalize", "raw"],
    ...["--min-freq", "1", "--embedding-size", "8", "--hidden-size", "8", "--layers", "1"],
    ...["--batch-size", "16", "--backend", "cpu", "--epochs", "1"],
  ]);
  strictEqual(train.code, 0, train.stderr);
  const heatmap = `${dir}/map.svg`;
  const sentence = "abc cab bca acb ca bb abc cab bca acb ca bb abc cab";
  const translated = await script("translate", [
    ...["--checkpoint", run, "--translate", sentence, "--heatmap", heatmap, "--backend", "cpu"],
  ]);
  strictEqual(translated.code, 0, translated.stderr);
  const svg = await Deno.readTextFile(heatmap);
  const title = svg.match(/<text x="8" y="18" font-size="14">([^<]*)<\/text>/)![1];
  ok(title.startsWith(`${sentence} =&gt; `), title);
  const width = number(svg, "width");
  const shown = title.replaceAll("&gt;", ">").replaceAll("&lt;", "<").replaceAll("&amp;", "&");
  ok(width >= 8 + estimateTextWidth(shown, 14), `width ${width} cuts the title "${shown}"`);
  // Each rotated token runs up from y = top - 6; its upper end must clear the title's line (22).
  for (
    const [, y, token] of svg.matchAll(/translate\([\d.]+,([\d.]+)\) rotate\(-90\)">([^<]*)</g)
  ) {
    const text = token.replaceAll("&gt;", ">").replaceAll("&lt;", "<");
    ok(Number(y) - estimateTextWidth(text, 12) >= 22, `"${text}" overlaps the title`);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("accuracy.svg-style charts keep the series labels at the right edge inside the chart", async () => {
  const history = [1, 2, 3].map((epoch) => ({
    epoch,
    validAccuracy: 0.5 + epoch / 10,
    validBalancedAccuracy: 0.3 + epoch / 10,
    validMacroF1: 0.32 + epoch / 10,
  }));
  const svg = await metricPlotSvg(history, [
    { key: "validAccuracy", label: "accuracy" },
    { key: "validBalancedAccuracy", label: "balanced" },
    { key: "validMacroF1", label: "macro-F1" },
  ], { yLabel: "validation score" });
  const width = number(svg, "width");
  let seen = 0;
  for (const label of ["accuracy", "balanced", "macro-F1"]) {
    const x = Number(svg.match(new RegExp(`translate\\(([\\d.]+),[\\d.]+\\)"[^>]*>${label}<`))![1]);
    ok(x + 6 + estimateTextWidth(label, 10) <= width, `"${label}" at ${x} is cut at ${width}`);
    seen++;
  }
  strictEqual(seen, 3);
});
