/**
 * Charts of a training run: an SVG line chart of perplexity per epoch, drawn
 * by Observable Plot on a `linkedom` document (no browser), and a small line
 * chart for the terminal drawn by `asciichart`.
 *
 * @module
 */
import * as Plot from "npm:@observablehq/plot@0.6.17";
import { parseHTML } from "npm:linkedom@0.18.15";
// @ts-types="npm:@types/asciichart@1.5.8"
import asciichart from "npm:asciichart@1.5.25";
import { UsageError } from "../errors.ts";

/** One epoch of a training history (the `epoch` events of `train --json`). */
export interface PerplexityPoint {
  epoch: number;
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
interface DomElement {
  outerHTML: string;
  textContent: string | null;
  firstChild: DomElement | null;
  setAttribute(name: string, value: string): void;
  insertBefore(node: DomElement, before: DomElement | null): DomElement;
}
interface DomDocument {
  createElementNS(namespace: string, name: string): DomElement;
}

const SVG_NS = "http://www.w3.org/2000/svg";
const COLORS = { train: "#4269d0", valid: "#ff725c" };

/**
 * An SVG line chart of train and validation perplexity per epoch: one path
 * per series, each labelled at its last point, axes labelled `epoch` and
 * `perplexity`. The result is a standalone SVG document (with `xmlns`).
 *
 * @param history one point per epoch, in any order.
 * @param options size, title and scale.
 * @returns the SVG text.
 * @throws {UsageError} for an empty history or a value that is not a finite number
 *   (a perplexity must also be > 0 on a log scale).
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * const svg = perplexityPlotSvg([
 *   { epoch: 1, trainPerplexity: 17.2, validPerplexity: 15.9 },
 *   { epoch: 2, trainPerplexity: 10.4, validPerplexity: 11.0 },
 * ]);
 * ok(svg.startsWith("<svg"));
 * ```
 */
export function perplexityPlotSvg(
  history: readonly PerplexityPoint[],
  options: PerplexityPlotOptions = {},
): string {
  if (history.length === 0) throw new UsageError("Cannot plot perplexity: the history is empty");
  const rows: { epoch: number; perplexity: number; series: "train" | "valid" }[] = [];
  for (const point of [...history].sort((a, b) => a.epoch - b.epoch)) {
    check(point.epoch, "epoch", point.epoch, false);
    check(point.trainPerplexity, "trainPerplexity", point.epoch, options.logScale);
    rows.push({ epoch: point.epoch, perplexity: point.trainPerplexity, series: "train" });
    if (point.validPerplexity === undefined) continue;
    check(point.validPerplexity, "validPerplexity", point.epoch, options.logScale);
    rows.push({ epoch: point.epoch, perplexity: point.validPerplexity, series: "valid" });
  }
  const epochs = [...new Set(rows.map((r) => r.epoch))];
  const values = new Set(rows.map((r) => r.perplexity));
  // One value alone gives Plot an empty domain: widen it around the value.
  const only = values.size === 1 ? [...values][0] : undefined;
  const yDomain = only === undefined ? {} : {
    domain: only === 0 ? [-1, 1] : [only * 0.8, only * 1.25].sort((a, b) => a - b),
  };
  const last = (series: string) => rows.findLast((r) => r.series === series);
  const ends = [last("train"), last("valid")].filter((r) => r !== undefined);
  const { document } = parseHTML("<!DOCTYPE html><html><body></body></html>") as unknown as {
    document: DomDocument;
  };
  const svg = Plot.plot({
    document,
    width: options.width ?? 640,
    height: options.height ?? 400,
    marginRight: 50,
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
      label: "perplexity",
      labelArrow: "none",
      type: options.logScale ? "log" : "linear",
      grid: true,
    },
    color: { domain: ["train", "valid"], range: [COLORS.train, COLORS.valid] },
    marks: [
      Plot.lineY(rows, {
        x: "epoch",
        y: "perplexity",
        stroke: "series",
        z: "series",
        strokeWidth: 2,
      }),
      Plot.dot(rows, {
        x: "epoch",
        y: "perplexity",
        fill: "series",
        r: rows.length <= 60 ? 2.5 : 0,
      }),
      Plot.text(ends, {
        x: "epoch",
        y: "perplexity",
        text: "series",
        fill: "series",
        dx: 6,
        textAnchor: "start",
      }),
    ],
  }) as unknown as DomElement;
  svg.setAttribute("xmlns", SVG_NS);
  // Plot's own title is an HTML <figure> around the chart; this one stays inside the SVG.
  if (options.title) addTitle(document, svg, options.title);
  return svg.outerHTML;
}

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

function check(value: unknown, field: string, epoch: unknown, positive?: boolean): void {
  const ok = typeof value === "number" && Number.isFinite(value) && (!positive || value > 0);
  if (!ok) {
    throw new UsageError(
      `Cannot plot perplexity: ${field} at epoch ${epoch} is ${
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
}

/**
 * A small line chart of a series (e.g. perplexity per epoch) for the
 * terminal, with a labelled vertical axis.
 *
 * @param values the series, left to right.
 * @returns the chart, lines joined by `\n`, no trailing newline.
 * @throws {UsageError} for an empty series or a non-finite value.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const chart = asciiLine([20, 12, 9, 8.5], { height: 4 });
 * strictEqual(chart.split("\n").length, 5);
 * ```
 */
export function asciiLine(values: readonly number[], options: AsciiLineOptions = {}): string {
  if (values.length === 0) throw new UsageError("Cannot draw a chart: the series is empty");
  const bad = values.findIndex((v) => typeof v !== "number" || !Number.isFinite(v));
  if (bad >= 0) {
    throw new UsageError(
      `Cannot draw a chart: value ${bad} is ${values[bad]}, expected a finite number`,
    );
  }
  const height = options.height ?? 8;
  const width = options.width ?? 60;
  if (!Number.isInteger(height) || height < 1) {
    throw new UsageError(`Cannot draw a chart: height ${height} is not an integer >= 1`);
  }
  if (!Number.isInteger(width) || width < 2) {
    throw new UsageError(`Cannot draw a chart: width ${width} is not an integer >= 2`);
  }
  const series = values.length <= width
    ? [...values]
    : Array.from({ length: width }, (_, i) =>
      values[Math.round(i * (values.length - 1) / (width - 1))]);
  const decimals = options.decimals ?? 2;
  const pad = Math.max(
    Math.min(...series).toFixed(decimals).length,
    Math.max(...series).toFixed(decimals).length,
  );
  return asciichart.plot(series, {
    height,
    format: (x: number) => x.toFixed(decimals).padStart(pad + 1),
  });
}
