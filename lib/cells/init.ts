/**
 * Weight initialisers for the fused cell storage, seeded through
 * {@linkcode Rng} so the same seed gives the same weights on every backend.
 *
 * Each gate block (`[D, H]` of `Wx`, `[H, H]` of `Wh`) is drawn on its own, so
 * a fused cell starts from the same distribution as d2l's separate matrices.
 * Biases start at zero, except an LSTM's forget block with `forgetBias`.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import { Rng } from "../rng.ts";
import type { CellSpec, FusedWeights } from "./definition.ts";
import { cellDefinition, checkCellOptions } from "./registry.ts";
import { cellParameters, checkSpec } from "./spec.ts";

/**
 * How to draw the kernels:
 * - `normal`: every kernel from N(0, 0.01²), d2l's `torch.randn(shape) * 0.01`;
 * - `xavier`: Glorot uniform per gate block, U(-a, a) with a = sqrt(6 / (fan_in + H));
 * - `orthogonal`: input kernel as `xavier`, each recurrent `[H, H]` block an
 *   orthogonal matrix (Keras's defaults for recurrent layers).
 */
export type InitName = "normal" | "xavier" | "orthogonal";

/**
 * The initialisers, for validation and help text.
 *
 * @example For a --init flag
 * ```ts
 * import { ok } from "node:assert";
 * ok(INIT_NAMES.includes("orthogonal"));
 * ```
 */
export const INIT_NAMES: readonly InitName[] = ["normal", "xavier", "orthogonal"];

/** Options of {@linkcode initialWeights}. */
export interface InitOptions {
  /** How to draw the kernels. @default "normal" */
  init?: InitName;
  /** Kinds with a forget gate `f` (lstm, lnlstm) only: the starting value of `b_f`. @default 0 */
  forgetBias?: number;
  /** Seed of the generator; the same seed gives the same weights. @default 0 */
  seed?: number;
}

/**
 * A row-major `[rows, cols]` matrix with every entry from N(0, std²).
 *
 * @example Seeded draws
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { Rng } from "../rng.ts";
 * deepStrictEqual(normalMatrix(2, 3, new Rng(1)), normalMatrix(2, 3, new Rng(1)));
 * ```
 */
export function normalMatrix(rows: number, cols: number, rng: Rng, std = 0.01): Float64Array {
  return Float64Array.from({ length: rows * cols }, () => std * rng.normal());
}

/**
 * A row-major `[fanIn, fanOut]` matrix from Glorot's uniform distribution,
 * U(-a, a) with a = sqrt(6 / (fanIn + fanOut)).
 *
 * @example Every entry within the Glorot bound
 * ```ts
 * import { ok } from "node:assert";
 * import { Rng } from "../rng.ts";
 * const m = xavierMatrix(4, 2, new Rng(1));
 * ok(m.every((v) => Math.abs(v) <= Math.sqrt(6 / 6)));
 * ```
 */
export function xavierMatrix(fanIn: number, fanOut: number, rng: Rng): Float64Array {
  const a = Math.sqrt(6 / (fanIn + fanOut));
  return Float64Array.from({ length: fanIn * fanOut }, () => a * (2 * rng.next() - 1));
}

/**
 * A row-major `[rows, cols]` matrix with orthonormal rows or columns
 * (whichever are fewer): Gram-Schmidt on a Gaussian matrix, in float64.
 *
 * @example A square one is orthogonal
 * ```ts
 * import { ok } from "node:assert";
 * import { Rng } from "../rng.ts";
 * const q = orthogonalMatrix(3, 3, new Rng(1));
 * const dot = (i: number, j: number) => q[i] * q[j] + q[3 + i] * q[3 + j] + q[6 + i] * q[6 + j];
 * ok(Math.abs(dot(0, 0) - 1) < 1e-12 && Math.abs(dot(0, 1)) < 1e-12);
 * ```
 */
export function orthogonalMatrix(rows: number, cols: number, rng: Rng): Float64Array {
  // Orthonormalise the n = max(rows, cols)-long vectors, k = min(rows, cols) of them.
  const n = Math.max(rows, cols), k = Math.min(rows, cols);
  const vectors: Float64Array[] = [];
  while (vectors.length < k) {
    const v = Float64Array.from({ length: n }, () => rng.normal());
    for (const u of vectors) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += u[i] * v[i];
      for (let i = 0; i < n; i++) v[i] -= dot * u[i];
    }
    const norm = Math.hypot(...v);
    if (norm < 1e-6) continue; // a (vanishingly unlikely) dependent draw: try again
    vectors.push(v.map((x) => x / norm));
  }
  // Tall: the vectors are the columns. Wide: they are the rows.
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = rows >= cols ? vectors[c][r] : vectors[r][c];
  }
  return out;
}

/** Writes a `[rows, H]` block into columns `g*H ..` of a row-major `[rows, G*H]` matrix. */
function placeBlock(target: Float32Array, block: Float64Array, g: number, H: number): void {
  const width = target.length / (block.length / H);
  for (let r = 0; r < block.length / H; r++) {
    for (let c = 0; c < H; c++) target[r * width + g * H + c] = block[r * H + c];
  }
}

/**
 * Fresh weights for one cell, drawn block by block in a fixed order (all of
 * `Wx`, then all of `Wh`), so the result depends only on the spec and options.
 *
 * @param spec the cell's kind and sizes.
 * @returns new tensors; the caller disposes them.
 * @throws {UsageError} for an unknown initialiser, or `forgetBias` on a kind without a forget gate.
 *
 * @example Seeded: the same seed, the same weights
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const spec = { kind: "lstm" as const, inputSize: 2, hiddenSize: 3 };
 * const a = initialWeights(spec, { seed: 7 }), b = initialWeights(spec, { seed: 7 });
 * deepStrictEqual(await a.Wh.data(), await b.Wh.data());
 * ```
 */
export function initialWeights(spec: CellSpec, options: InitOptions = {}): FusedWeights {
  const checked = checkSpec(spec);
  const { kind, inputSize: D, hiddenSize: H } = checked;
  const gates = cellDefinition(checked).gates;
  const init = options.init ?? "normal";
  if (!INIT_NAMES.includes(init)) {
    throw new UsageError(
      `Cannot initialise a ${kind} cell: init is "${init}", expected one of ${
        INIT_NAMES.join(", ")
      }`,
    );
  }
  checkCellOptions(checked, { forgetBias: options.forgetBias }, `Cannot initialise a ${kind} cell`);
  const rng = new Rng(options.seed ?? 0);
  const G = gates.length;
  const draw = (rows: number, recurrent: boolean): Float64Array => {
    if (init === "normal") return normalMatrix(rows, H, rng);
    if (init === "orthogonal" && recurrent) return orthogonalMatrix(rows, H, rng);
    return xavierMatrix(rows, H, rng);
  };
  const Wx = new Float32Array(D * G * H), Wh = new Float32Array(H * G * H);
  for (let g = 0; g < G; g++) placeBlock(Wx, draw(D, false), g, H);
  for (let g = 0; g < G; g++) placeBlock(Wh, draw(H, true), g, H);
  const b = new Float32Array(G * H);
  const f = gates.indexOf("f");
  if (f >= 0) b.fill(options.forgetBias ?? 0, f * H, (f + 1) * H);
  const weights: FusedWeights = {
    Wx: tf.tensor2d(Wx, [D, G * H]),
    Wh: tf.tensor2d(Wh, [H, G * H]),
    b: tf.tensor1d(b),
  };
  for (const p of cellParameters(checked)) weights[p.key] = tf.fill([p.blocks * H], p.initial);
  return weights;
}
