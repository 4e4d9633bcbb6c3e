/**
 * The confusion matrix of a classifier as an SVG heat map, written as SVG
 * text directly (no DOM, no plotting library to load), so importing this
 * module costs nothing. (The loss and accuracy curves of a run are the
 * training core's `metricPlotSvg`.)
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/** Options of {@linkcode confusionMatrixSvg}. */
export interface ConfusionPlotOptions {
  /** A title above the matrix. @default none */
  title?: string;
  /** Side of one cell in pixels. @default 28 */
  cell?: number;
}

/** Escapes text for SVG content and attributes. */
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** White (0) to dark blue (1), linear in RGB. */
function shade(x: number): string {
  const mix = (from: number, to: number) => Math.round(from + (to - from) * x);
  return `rgb(${mix(255, 8)},${mix(255, 48)},${mix(255, 107)})`;
}

/**
 * The confusion matrix as an SVG heat map: rows are the true labels, columns
 * the predictions, each row normalised to sum to 1 (so a cell is the share
 * of that label's examples given that prediction, i.e. the diagonal is each
 * label's recall). Cells show the share in hundredths; rows and columns are
 * labelled, with each label's support beside its row.
 *
 * @param confusion `[L][L]` counts, `confusion[true][predicted]`.
 * @param labels the L label names.
 * @returns a standalone SVG document.
 * @throws {UsageError} for a matrix that is not L x L with counts >= 0.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * const svg = confusionMatrixSvg([[8, 2], [1, 9]], ["cat", "dog"], { title: "test split" });
 * ok(svg.startsWith("<svg") && svg.includes(">dog<") && svg.includes("true label"));
 * ```
 */
export function confusionMatrixSvg(
  confusion: readonly (readonly number[])[],
  labels: readonly string[],
  options: ConfusionPlotOptions = {},
): string {
  const L = labels.length;
  const square = confusion.length === L &&
    confusion.every((row) => row.length === L && row.every((v) => Number.isFinite(v) && v >= 0));
  if (L === 0 || !square) {
    throw new UsageError(
      `Cannot plot a confusion matrix: it is not ${L} x ${L} counts >= 0 (one row and column per label)`,
    );
  }
  const cell = options.cell ?? 28;
  const labelWidth = 7 * Math.max(...labels.map((l) => l.length)) + 16;
  const top = (options.title ? 34 : 10) + labelWidth; // room for the rotated column labels
  const left = labelWidth + 24;
  const width = left + L * cell + 70;
  const height = top + L * cell + 40;
  const parts: string[] = [];
  const add = (s: string) => parts.push(s);
  add(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
  );
  add(`<rect width="${width}" height="${height}" fill="white"/>`);
  if (options.title) {
    add(
      `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${
        esc(options.title)
      }</text>`,
    );
  }
  for (let t = 0; t < L; t++) {
    const total = confusion[t].reduce((a, b) => a + b, 0);
    const y = top + t * cell;
    add(`<text x="${left - 6}" y="${y + cell / 2 + 4}" text-anchor="end">${esc(labels[t])}</text>`);
    add(`<text x="${left + L * cell + 6}" y="${y + cell / 2 + 4}" fill="#555">${total}</text>`);
    for (let p = 0; p < L; p++) {
      const share = total === 0 ? 0 : confusion[t][p] / total;
      const x = left + p * cell;
      add(
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${shade(share)}" ` +
          `stroke="#ddd"><title>true ${esc(labels[t])}, predicted ${esc(labels[p])}: ${
            confusion[t][p]
          } of ${total}</title></rect>`,
      );
      if (share >= 0.005) {
        add(
          `<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" font-size="9" ` +
            `fill="${share > 0.5 ? "white" : "black"}">${Math.round(share * 100)}</text>`,
        );
      }
    }
  }
  for (let p = 0; p < L; p++) {
    const x = left + p * cell + cell / 2 + 4;
    add(`<text transform="translate(${x},${top - 6}) rotate(-90)">${esc(labels[p])}</text>`);
  }
  add(
    `<text x="${left + (L * cell) / 2}" y="${height - 12}" text-anchor="middle" ` +
      `font-size="12">predicted label</text>`,
  );
  add(
    `<text transform="translate(14,${top + (L * cell) / 2}) rotate(-90)" text-anchor="middle" ` +
      `font-size="12">true label (rows sum to 100)</text>`,
  );
  add(`<text x="${left + L * cell + 6}" y="${top - 6}" fill="#555">support</text>`);
  add("</svg>");
  return parts.join("\n");
}
