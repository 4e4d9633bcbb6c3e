/**
 * The attention weights of one translation as an SVG heat map (d2l's
 * `show_heatmaps`): one row per target token, one column per source token,
 * darker for more weight. Plain SVG text, no plotting library.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { estimateTextWidth } from "../training/plot.ts";

/** Options of {@linkcode attentionHeatmapSvg}. */
export interface HeatmapOptions {
  /** A title above the map. */
  title?: string;
  /** Side of one cell in pixels. @default 28 */
  cell?: number;
}

/**
 * Draws attention weights `[targets, sources]` with the tokens on the axes:
 * source tokens along the top (x), target tokens down the left (y).
 *
 * @param weights one row per target token, each with one weight per source token.
 * @param sourceTokens the column labels.
 * @param targetTokens the row labels.
 * @returns the SVG document.
 * @throws {UsageError} when the labels do not fit the weights.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * const svg = attentionHeatmapSvg([[0.9, 0.1], [0.2, 0.8]], ["go", "<eos>"], ["va", "<eos>"]);
 * ok(svg.startsWith("<svg") && svg.includes("&lt;eos&gt;"));
 * ```
 */
export function attentionHeatmapSvg(
  weights: readonly (readonly number[])[],
  sourceTokens: readonly string[],
  targetTokens: readonly string[],
  options: HeatmapOptions = {},
): string {
  if (
    weights.length !== targetTokens.length || weights.some((r) => r.length !== sourceTokens.length)
  ) {
    throw new UsageError(
      `Cannot draw the attention map: weights are ${weights.length} x ${
        weights[0]?.length ?? 0
      }, ` +
        `expected ${targetTokens.length} target x ${sourceTokens.length} source tokens`,
    );
  }
  const cell = options.cell ?? 28;
  const longest = (tokens: readonly string[]) =>
    Math.max(7, ...tokens.map((t) => estimateTextWidth(t, 12)));
  const left = 12 + longest(targetTokens);
  // The title's line (baseline 18, descenders to 22), then the rotated source
  // tokens, which end 6 px above the map.
  const top = (options.title ? 28 : 8) + longest(sourceTokens) + 6;
  const titleWidth = options.title ? 8 + estimateTextWidth(options.title, 14) + 8 : 0;
  const width = Math.max(left + cell * sourceTokens.length + 60, titleWidth);
  const height = top + cell * targetTokens.length + 12;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (options.title) {
    parts.push(`<text x="8" y="18" font-size="14">${escape(options.title)}</text>`);
  }
  sourceTokens.forEach((t, j) => {
    const x = left + cell * j + cell / 2 + 4, y = top - 6;
    parts.push(`<text transform="translate(${x},${y}) rotate(-90)">${escape(t)}</text>`);
  });
  targetTokens.forEach((t, i) => {
    const y = top + cell * i + cell / 2 + 4;
    parts.push(`<text x="${left - 6}" y="${y}" text-anchor="end">${escape(t)}</text>`);
    weights[i].forEach((w, j) => {
      const v = Math.max(0, Math.min(1, w));
      parts.push(
        `<rect x="${left + cell * j}" y="${top + cell * i}" width="${cell}" height="${cell}" ` +
          `fill="${shade(v)}" stroke="#ddd"><title>${escape(t)} / ${escape(sourceTokens[j])}: ${
            w.toFixed(3)
          }</title></rect>`,
      );
    });
  });
  // The colour scale: 0 at the bottom, 1 at the top.
  const scaleX = left + cell * sourceTokens.length + 16, scaleH = cell * targetTokens.length;
  for (let k = 0; k < 10; k++) {
    parts.push(
      `<rect x="${scaleX}" y="${top + (scaleH * (9 - k)) / 10}" width="12" height="${
        scaleH / 10
      }" fill="${shade((k + 0.5) / 10)}"/>`,
    );
  }
  parts.push(`<text x="${scaleX + 16}" y="${top + 10}">1</text>`);
  parts.push(`<text x="${scaleX + 16}" y="${top + scaleH}">0</text>`);
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

/** White (0) to dark blue (1). */
function shade(v: number): string {
  const mix = (a: number, b: number) => Math.round(a + (b - a) * v);
  return `rgb(${mix(255, 8)},${mix(255, 48)},${mix(255, 107)})`;
}

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}
