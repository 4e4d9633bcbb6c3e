import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert";
import { asciiLine, perplexityPlotSvg } from "../../lib/training/plot.ts";
import { UsageError } from "../../lib/errors.ts";

const HISTORY = [
  { epoch: 1, trainPerplexity: 17.5, validPerplexity: 16.25 },
  { epoch: 2, trainPerplexity: 11.0, validPerplexity: 12.5 },
  { epoch: 3, trainPerplexity: 8.75 },
  { epoch: 4, trainPerplexity: 7.5, validPerplexity: 9.75 },
];

/** Checks that every tag is closed in order: the SVG is well-formed XML as far as tags go. */
function assertBalancedTags(svg: string): void {
  const stack: string[] = [];
  for (
    const [, close, name, , selfClose] of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)([^>]*?)(\/?)>/g)
  ) {
    if (selfClose) continue;
    if (!close) stack.push(name);
    else strictEqual(stack.pop(), name, `</${name}> closes the open tag`);
  }
  deepStrictEqual(stack, [], "every tag is closed");
  ok(!/&(?!(amp|lt|gt|quot|#\d+|#x[0-9a-f]+);)/i.test(svg), "every & starts an entity");
}

/** The `<path>` elements inside Plot's line mark, one per series. */
function linePaths(svg: string): string[] {
  const group = svg.match(/<g[^>]*aria-label="line"[^>]*>(.*?)<\/g>/s);
  ok(group, "the chart has a line mark");
  return [...group[1].matchAll(/<path [^>]*>/g)].map((m) => m[0]);
}

Deno.test("perplexityPlotSvg() draws a standalone SVG with one path per series", async () => {
  const svg = await perplexityPlotSvg(HISTORY);
  ok(svg.startsWith("<svg "), svg.slice(0, 40));
  ok(svg.endsWith("</svg>"));
  ok(svg.includes('xmlns="http://www.w3.org/2000/svg"'));
  ok(svg.includes('width="640"') && svg.includes('height="400"'));
  assertBalancedTags(svg);
  const paths = linePaths(svg);
  strictEqual(paths.length, 2);
  ok(paths.some((p) => p.includes('stroke="#4269d0"')), "train is blue");
  ok(paths.some((p) => p.includes('stroke="#ff725c"')), "valid is red");
  for (const label of [">epoch<", ">perplexity<", ">train<", ">valid<"]) {
    ok(svg.includes(label), `has the text ${label}`);
  }
  for (const tick of [">1<", ">2<", ">3<", ">4<"]) ok(svg.includes(tick), `epoch tick ${tick}`);
  strictEqual(await perplexityPlotSvg(HISTORY), svg, "the same history gives the same SVG");
});

Deno.test("perplexityPlotSvg() draws only train when no epoch has a validation value", async () => {
  const svg = await perplexityPlotSvg(
    HISTORY.map(({ epoch, trainPerplexity }) => ({ epoch, trainPerplexity })),
  );
  strictEqual(linePaths(svg).length, 1);
  ok(!svg.includes(">valid<"));
});

Deno.test("perplexityPlotSvg() takes a size, an escaped title, a log scale and one point", async () => {
  const svg = await perplexityPlotSvg(HISTORY, {
    width: 320,
    height: 200,
    title: "GRU & LSTM <d2l>",
    logScale: true,
  });
  ok(svg.includes('width="320"') && svg.includes('height="200"'));
  ok(svg.includes("GRU &amp; LSTM &lt;d2l&gt;"));
  assertBalancedTags(svg);
  const single = await perplexityPlotSvg([{ epoch: 1, trainPerplexity: 20 }]);
  assertBalancedTags(single);
  ok(single.includes(">20<"), "a single value still gets labelled ticks around it");
});

Deno.test("perplexityPlotSvg() rejects an empty history and non-finite values", async () => {
  const usage = (message: string) => (error: Error) => {
    ok(error instanceof UsageError);
    strictEqual(error.message, message);
    return true;
  };
  await rejects(() => perplexityPlotSvg([]), usage("Cannot plot perplexity: the history is empty"));
  await rejects(
    () => perplexityPlotSvg([{ epoch: 1, trainPerplexity: 5 }, { epoch: 2, trainPerplexity: NaN }]),
    usage("Cannot plot perplexity: trainPerplexity at epoch 2 is NaN, expected a finite number"),
  );
  await rejects(
    () =>
      perplexityPlotSvg([{ epoch: 1, trainPerplexity: 5, validPerplexity: 0 }], { logScale: true }),
    usage("Cannot plot perplexity: validPerplexity at epoch 1 is 0, expected a finite number > 0"),
  );
});

Deno.test("asciiLine() draws height + 1 rows labelled from the maximum down to the minimum", () => {
  const chart = asciiLine([20, 12, 9, 8.5, 8], { height: 4 });
  const rows = chart.split("\n");
  strictEqual(rows.length, 5);
  ok(rows[0].trimStart().startsWith("20.00 "), rows[0]);
  ok(rows[4].trimStart().startsWith("8.00 "), rows[4]);
  strictEqual(
    new Set(rows.map((r) => r.indexOf("┤") >= 0 ? r.indexOf("┤") : r.indexOf("┼"))).size,
    1,
  );
  strictEqual(
    chart,
    [
      " 20.00 ┼╮    ",
      " 17.00 ┤│    ",
      " 14.00 ┤│    ",
      " 11.00 ┤╰╮   ",
      "  8.00 ┤ ╰── ",
    ].join("\n"),
  );
});

Deno.test("asciiLine() resamples a long series to the width, keeping both ends", () => {
  const values = Array.from({ length: 500 }, (_, i) => 100 / (i + 1));
  const rows = asciiLine(values, { height: 3, width: 40 }).split("\n");
  ok(rows[0].includes("100.00"));
  ok(rows[3].includes("0.20"));
  strictEqual(rows[0].length, " 100.00 ┼".length + 40);
});

Deno.test("asciiLine() rejects an empty series, a non-finite value and a bad height", () => {
  throws(() => asciiLine([]), {
    name: "UsageError",
    message: "Cannot draw a chart: the series is empty",
  });
  throws(() => asciiLine([1, Infinity]), {
    name: "UsageError",
    message: "Cannot draw a chart: value 1 is Infinity, expected a finite number",
  });
  throws(() => asciiLine([1, 2], { height: 0 }), UsageError);
});

Deno.test("perplexityPlotSvg() prints nothing, whatever the number of epochs", async () => {
  const printed: unknown[] = [];
  const saved = { warn: console.warn, log: console.log, error: console.error };
  console.warn = console.log = console.error = (...args: unknown[]) => printed.push(args);
  try {
    for (const n of [1, 2, 11, 40]) {
      await perplexityPlotSvg(
        Array.from({ length: n }, (_, i) => ({
          epoch: i + 1,
          trainPerplexity: 10 / (i + 1) + 2,
          validPerplexity: 9 / (i + 1) + 3,
        })),
      );
    }
  } finally {
    Object.assign(console, saved);
  }
  deepStrictEqual(printed, []);
});
