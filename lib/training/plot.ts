/**
 * Charts of a training run: an SVG line chart of perplexity per epoch, drawn
 * by Observable Plot on a `linkedom` document (no browser), and a small line
 * chart for the terminal drawn by `asciichart`.
 *
 * @module
 */
// Observable Plot and linkedom (with d3 and ~60 more npm packages) are loaded
// on the first SVG chart, not when the library is imported: a user who only
// trains a cell never downloads them. The specifiers are variables so that
// Deno's module graph (`deno cache` included) does not fetch them ahead of
// time; for the same reason their types are the few members used, below.
const PLOT_SPECIFIER = "npm:@observablehq/plot@0.6.17";
const LINKEDOM_SPECIFIER = "npm:linkedom@0.18.15";

/** The part of a DOM element used here (linkedom's). */
interface DomElement {
  outerHTML: string;
  textContent: string | null;
  firstChild: DomElement | null;
  setAttribute(name: string, value: string): void;
  insertBefore(node: DomElement, before: DomElement | null): DomElement;
}
/** The part of a DOM document used here (linkedom's). */
interface DomDocument {
  createElementNS(namespace: string, name: string): DomElement;
}

/** The part of Observable Plot used here. */
interface PlotModule {
  /** The chart as an SVG element of the document it is given. */
  plot(options: Record<string, unknown>): DomElement;
  lineY(data: readonly unknown[], options: Record<string, unknown>): unknown;
  dot(data: readonly unknown[], options: Record<string, unknown>): unknown;
  text(data: readonly unknown[], options: Record<string, unknown>): unknown;
}
/** Observable Plot and linkedom's `parseHTML`. */
interface SvgStack {
  Plot: PlotModule;
  parseHTML(html: string): { document: DomDocument };
}
let svgStack: Promise<SvgStack> | undefined;

/** Loads Observable Plot and linkedom once, on first use. */
function loadSvgStack(): Promise<SvgStack> {
  svgStack ??= Promise.all([import(PLOT_SPECIFIER), import(LINKEDOM_SPECIFIER)])
    .then(([Plot, linkedom]) => ({ Plot, parseHTML: linkedom.parseHTML }));
  return svgStack;
}
// @ts-types="npm:@types/asciichart@1.5.8"
import asciichart from "npm:asciichart@1.5.25";
import { UsageError } from "../errors.ts";

/** One epoch of a training history (the `epoch` events of `train --json`). */
export interface PerplexityPoint {
  /** The epoch, from 1. */
  epoch: number;
  /** Training perplexity of the epoch. */
  trainPerplexity: number;
  /** Absent when the epoch had no validation pass. */
  validPerplexity?: number;
}

/** Options of {@linkcode perplexityPlotSvg}. */
export interface PerplexityPlotOptions {
  /** Width in pixels. @default 640 */
  width?: number;
  /** Height in pixels. @default 400 */
  height?: number;
  /** A title above the chart. @default none */
  title?: string;
  /** A logarithmic perplexity axis, for runs that start far above where they end. @default false */
  logScale?: boolean;
}

/** The little of the DOM used here (Deno type-checks without the DOM library). */
const SVG_NS = "http://www.w3.org/2000/svg";
/** Line colours in series order: train blue, valid red, then others. */
const PALETTE = ["#4269d0", "#ff725c", "#6cc5b0", "#efb118", "#a463f2"];

/**
 * An SVG line chart of train and validation perplexity per epoch: one path
 * per series, each labelled at its last point, axes labelled `epoch` and
 * `perplexity`. The result is a standalone SVG document (with `xmlns`).
 *
 * @param history one point per epoch, in any order.
 * @param options size, title and scale.
 * @returns the SVG text (Observable Plot and linkedom load on the first call).
 * @throws {UsageError} for an empty history or a value that is not a finite number
 *   (a perplexity must also be > 0 on a log scale).
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * const svg = await perplexityPlotSvg([
 *   { epoch: 1, trainPerplexity: 17.2, validPerplexity: 15.9 },
 *   { epoch: 2, trainPerplexity: 10.4, validPerplexity: 11.0 },
 * ]);
 * ok(svg.startsWith("<svg"));
 * ```
 */
export function perplexityPlotSvg(
  history: readonly PerplexityPoint[],
  options: PerplexityPlotOptions = {},
): Promise<string> {
  return metricPlotSvg(
    history,
    [{ key: "trainPerplexity", label: "train" }, { key: "validPerplexity", label: "valid" }],
    { ...options, yLabel: "perplexity" },
  );
}

/** One line of {@linkcode metricPlotSvg}: a field of each epoch's record and its label. */
export interface MetricSeries {
  /** The record's field, e.g. `trainLoss`. */
  key: string;
  /** The line's label, e.g. `train`. */
  label: string;
}

/** Options of {@linkcode metricPlotSvg}. */
export interface MetricPlotOptions extends PerplexityPlotOptions {
  /** The vertical axis' label, e.g. `loss`. */
  yLabel: string;
}

/**
 * An SVG line chart of any per-epoch metrics (a loss, an accuracy): one path
 * per series, labelled at its last point. The first series is required at
 * every epoch; the others are drawn where present (undefined or null skip).
 *
 * @param history one record per epoch with a numeric `epoch`, in any order.
 * @throws {UsageError} for an empty history or a value that is not a finite number.
 *
 * @example Train and validation loss
 * ```ts
 * import { ok } from "node:assert";
 * const svg = await metricPlotSvg(
 *   [{ epoch: 1, trainLoss: 2.1, validLoss: 2.3 }, { epoch: 2, trainLoss: 1.4, validLoss: 1.9 }],
 *   [{ key: "trainLoss", label: "train" }, { key: "validLoss", label: "valid" }],
 *   { yLabel: "loss" },
 * );
 * ok(svg.includes(">loss<"));
 * ```
 */
export async function metricPlotSvg(
  history: readonly object[],
  series: readonly MetricSeries[],
  options: MetricPlotOptions,
): Promise<string> {
  const what = options.yLabel;
  if (history.length === 0) throw new UsageError(`Cannot plot ${what}: the history is empty`);
  const rows: { epoch: number; value: number; series: string }[] = [];
  // Any record with the series' fields: read them by name (checked below).
  const points = history.map((row) => row as Record<string, unknown>);
  const sorted = points.sort((a, b) => (a.epoch as number) - (b.epoch as number));
  for (const point of sorted) {
    check(point.epoch, what, "epoch", point.epoch, false);
    series.forEach(({ key, label }, i) => {
      const value = point[key];
      if (i > 0 && (value === undefined || value === null)) return;
      check(value, what, key, point.epoch, options.logScale);
      rows.push({ epoch: point.epoch as number, value: value as number, series: label });
    });
  }
  const epochs = [...new Set(rows.map((r) => r.epoch))];
  const values = new Set(rows.map((r) => r.value));
  // One value alone gives Plot an empty domain: widen it around the value.
  const only = values.size === 1 ? [...values][0] : undefined;
  const yDomain = only === undefined ? {} : {
    domain: only === 0 ? [-1, 1] : [only * 0.8, only * 1.25].sort((a, b) => a - b),
  };
  const labels = series.map((s) => s.label);
  const ends = labels.map((label) => rows.findLast((r) => r.series === label))
    .filter((r) => r !== undefined);
  const { Plot, parseHTML } = await loadSvgStack();
  const { document } = parseHTML("<!DOCTYPE html><html><body></body></html>");
  const svg = Plot.plot({
    document,
    width: options.width ?? 640,
    height: options.height ?? 400,
    // Room for each series' label right of its last point (dx 6), and a little more.
    marginRight: Math.max(
      50,
      6 + Math.max(...labels.map((l) => estimateTextWidth(l, PLOT_FONT_SIZE))) + 8,
    ),
    marginTop: options.title ? 48 : 24,
    style: { background: "white", color: "black" },
    x: {
      label: "epoch",
      labelArrow: "none",
      // Whole epochs only: every epoch while they fit, else Plot's ticks.
      ...(epochs.length <= 12 ? { ticks: epochs } : {}),
      tickFormat: (x: number) => Number.isInteger(x) ? String(x) : "",
    },
    y: {
      ...yDomain,
      label: what,
      labelArrow: "none",
      type: options.logScale ? "log" : "linear",
      grid: true,
    },
    color: { domain: labels, range: labels.map((_, i) => PALETTE[i % PALETTE.length]) },
    marks: [
      Plot.lineY(rows, { x: "epoch", y: "value", stroke: "series", z: "series", strokeWidth: 2 }),
      Plot.dot(rows, { x: "epoch", y: "value", fill: "series", r: rows.length <= 60 ? 2.5 : 0 }),
      Plot.text(ends, {
        x: "epoch",
        y: "value",
        text: "series",
        fill: "series",
        dx: 6,
        textAnchor: "start",
      }),
    ],
  });
  svg.setAttribute("xmlns", SVG_NS);
  // Plot's own title is an HTML <figure> around the chart; this one stays inside the SVG.
  if (options.title) addTitle(document, svg, options.title);
  return svg.outerHTML;
}

/**
 * An upper estimate of the width in pixels of `text` drawn in a sans-serif
 * font of `fontSize` pixels, for making room for labels and titles in an SVG
 * (no font metrics are at hand): narrow letters 0.35 em, capitals and wide
 * letters 0.8-0.95 em, wide (CJK, fullwidth) characters 1 em, others 0.62 em
 * (DejaVu Sans, the widest common default, averages about 0.6 em).
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * ok(estimateTextWidth("macro-F1", 10) >= 45); // what rsvg-convert draws: about 45 px
 * ok(estimateTextWidth("日本", 10) === 20);
 * ```
 */
export function estimateTextWidth(text: string, fontSize: number): number {
  let em = 0;
  for (const c of text) {
    const code = c.codePointAt(0)!;
    if (
      code >= 0x1100 && (code <= 0x115f || (code >= 0x2e80 && code <= 0xa4cf) ||
        (code >= 0xac00 && code <= 0xd7a3) || (code >= 0xf900 && code <= 0xfaff) ||
        (code >= 0xfe30 && code <= 0xfe4f) || (code >= 0xff00 && code <= 0xff60) ||
        (code >= 0xffe0 && code <= 0xffe6) || code >= 0x1f300)
    ) em += 1;
    else if ("il.,:;'!|Ijtf() ".includes(c)) em += 0.35;
    else if ("mwMW@%".includes(c)) em += 0.95;
    else if (c >= "A" && c <= "Z") em += 0.8;
    else em += 0.62;
  }
  return Math.ceil(em * fontSize);
}

/** Plot's default font size for tick and mark text, in pixels. */
const PLOT_FONT_SIZE = 10;

function addTitle(document: DomDocument, svg: DomElement, title: string): void {
  const text = document.createElementNS(SVG_NS, "text");
  const attributes = { x: "50%", y: "20", "font-size": "15", "font-weight": "bold" };
  for (const [name, value] of Object.entries(attributes)) text.setAttribute(name, value);
  text.textContent = title;
  const tooltip = document.createElementNS(SVG_NS, "title");
  tooltip.textContent = title;
  svg.insertBefore(text, svg.firstChild);
  svg.insertBefore(tooltip, svg.firstChild);
}

function check(
  value: unknown,
  what: string,
  field: string,
  epoch: unknown,
  positive?: boolean,
): void {
  const ok = typeof value === "number" && Number.isFinite(value) && (!positive || value > 0);
  if (!ok) {
    throw new UsageError(
      `Cannot plot ${what}: ${field} at epoch ${epoch} is ${
        typeof value === "number" ? value : JSON.stringify(value)
      }, ` +
        `expected a finite number${positive ? " > 0" : ""}`,
    );
  }
}

/** Options of {@linkcode asciiLine}. */
export interface AsciiLineOptions {
  /** Rows of the chart, not counting the last. @default 8 */
  height?: number;
  /** Most columns; longer series are resampled to fit. @default 60 */
  width?: number;
  /** Decimals of the axis labels. @default 2 */
  decimals?: number;
  /** ANSI colours of the series, in order (e.g. for a terminal). @default none */
  colors?: readonly AsciiColor[];
}

/** The terminal colours {@linkcode asciiLine} draws with. */
export type AsciiColor = "blue" | "red" | "green" | "yellow" | "magenta" | "cyan";

/**
 * A small line chart of one series (e.g. perplexity per epoch), or of several
 * on one axis (train and validation), for the terminal, with a labelled
 * vertical axis. Every series is drawn against the same epochs; a shorter one
 * stops early.
 *
 * @param values a series, or a list of series, left to right.
 * @returns the chart, lines joined by `\n`, no trailing newline.
 * @throws {UsageError} for an empty series or a non-finite value.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const chart = asciiLine([20, 12, 9, 8.5], { height: 4 });
 * strictEqual(chart.split("\n").length, 5);
 * const both = asciiLine([[20, 12, 9, 8.5], [18, 13, 11, 12]], { height: 4 });
 * strictEqual(both.split("\n").length, 5);
 * ```
 */
export function asciiLine(
  values: readonly number[] | readonly (readonly number[])[],
  options: AsciiLineOptions = {},
): string {
  const many = values.length > 0 && Array.isArray(values[0]);
  const all = (many ? values : [values]) as readonly (readonly number[])[];
  if (all.length === 0 || all.some((series) => series.length === 0)) {
    throw new UsageError("Cannot draw a chart: the series is empty");
  }
  for (const series of all) {
    const bad = series.findIndex((v) => typeof v !== "number" || !Number.isFinite(v));
    if (bad >= 0) {
      throw new UsageError(
        `Cannot draw a chart: value ${bad} is ${series[bad]}, expected a finite number`,
      );
    }
  }
  const height = options.height ?? 8;
  const width = options.width ?? 60;
  if (!Number.isInteger(height) || height < 1) {
    throw new UsageError(`Cannot draw a chart: height ${height} is not an integer >= 1`);
  }
  if (!Number.isInteger(width) || width < 2) {
    throw new UsageError(`Cannot draw a chart: width ${width} is not an integer >= 2`);
  }
  const longest = Math.max(...all.map((series) => series.length));
  const resample = (series: readonly number[]) =>
    longest <= width ? [...series] : Array.from(
      { length: Math.round((series.length - 1) / (longest - 1) * (width - 1)) + 1 },
      (_, i) => series[Math.round(i * (longest - 1) / (width - 1))],
    );
  const drawn = all.map(resample);
  const flat = drawn.flat();
  const decimals = options.decimals ?? 2;
  const pad = Math.max(
    Math.min(...flat).toFixed(decimals).length,
    Math.max(...flat).toFixed(decimals).length,
  );
  return asciichart.plot(many ? drawn : drawn[0], {
    height,
    format: (x: number) => x.toFixed(decimals).padStart(pad + 1),
    ...(options.colors ? { colors: options.colors.map((c) => asciichart[c]) } : {}),
  });
}
