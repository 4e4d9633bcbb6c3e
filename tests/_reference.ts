/**
 * An independent float64 reference for every cell, written plainly from the
 * d2l equations: loops over arrays, one gate at a time, weights under the d2l
 * names (never the fused layout), no tfjs. The tests compare the library
 * against it, gate by gate, and differentiate it by finite differences.
 *
 * Conventions: a matrix is `number[][]` row-major, `x` is `[B][D]`, a kernel
 * `W_x*` is `[D][H]`, `W_h*` is `[H][H]`, a bias is `[H]`, so a gate reads
 * `σ(x W_x* + h W_h* + b_*)` exactly as in d2l.
 */
import { Rng } from "../lib/rng.ts";

export type Vec = number[];
export type Mat = number[][];
export type Kind = "rnn" | "gru" | "lstm";
/** Weights under the d2l names. */
export type Named = Record<string, Mat | Vec>;

export interface RefState {
  h: Mat;
  c?: Mat;
}

export interface RefOptions {
  nonlinearity?: "tanh" | "relu";
  resetAfter?: boolean;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const relu = (v: number) => (v > 0 ? v : 0);

/** `a W` for `a` `[B][K]` and `W` `[K][H]`. */
export function matmul(a: Mat, W: Mat): Mat {
  const H = W[0].length;
  return a.map((row) => {
    const out = new Array<number>(H).fill(0);
    for (let k = 0; k < row.length; k++) {
      for (let j = 0; j < H; j++) out[j] += row[k] * W[k][j];
    }
    return out;
  });
}

/** Elementwise `f(a, b)` over two `[B][H]` matrices. */
function zip(a: Mat, b: Mat, f: (u: number, v: number) => number): Mat {
  return a.map((row, i) => row.map((u, j) => f(u, b[i][j])));
}

/** Applies `f` to every entry. */
function map(a: Mat, f: (u: number) => number): Mat {
  return a.map((row) => row.map(f));
}

/** `x W_x + h W_h + b` for one gate. */
function affine(x: Mat, Wx: Mat, h: Mat, Wh: Mat, b: Vec): Mat {
  const xw = matmul(x, Wx), hw = matmul(h, Wh);
  return xw.map((row, i) => row.map((v, j) => v + hw[i][j] + b[j]));
}

/** The gate named `g` in d2l terms: `x W_x{g} + h W_h{g} + b_{g}`. */
function gate(w: Named, g: string, x: Mat, h: Mat): Mat {
  return affine(x, w[`W_x${g}`] as Mat, h, w[`W_h${g}`] as Mat, w[`b_${g}`] as Vec);
}

/** Every gate of one step, in float64. rnn: h; gru: z, r, hTilde, h; lstm: i, f, o, cTilde, c, h. */
export function refGates(
  kind: Kind,
  w: Named,
  x: Mat,
  state: RefState,
  options: RefOptions = {},
): Record<string, Mat> {
  const hPrev = state.h;
  if (kind === "rnn") {
    const phi = options.nonlinearity === "relu" ? relu : Math.tanh;
    return { h: map(gate(w, "h", x, hPrev), phi) };
  }
  if (kind === "gru") {
    const z = map(gate(w, "z", x, hPrev), sigmoid);
    const r = map(gate(w, "r", x, hPrev), sigmoid);
    let pre: Mat;
    if (options.resetAfter) {
      // tanh(x W_xh + b_h + r ⊙ (h W_hh + b_hh))
      const xh = affine(x, w.W_xh as Mat, zeros(hPrev), w.W_hh as Mat, w.b_h as Vec);
      const hh = matmul(hPrev, w.W_hh as Mat).map((row) =>
        row.map((v, j) => v + (w.b_hh as Vec)[j])
      );
      pre = zip(xh, zip(r, hh, (a, b) => a * b), (a, b) => a + b);
    } else {
      // tanh(x W_xh + (r ⊙ h) W_hh + b_h)
      pre = affine(x, w.W_xh as Mat, zip(r, hPrev, (a, b) => a * b), w.W_hh as Mat, w.b_h as Vec);
    }
    const hTilde = map(pre, Math.tanh);
    const h = z.map((row, i) => row.map((zi, j) => zi * hPrev[i][j] + (1 - zi) * hTilde[i][j]));
    return { z, r, hTilde, h };
  }
  const i = map(gate(w, "i", x, hPrev), sigmoid);
  const f = map(gate(w, "f", x, hPrev), sigmoid);
  const o = map(gate(w, "o", x, hPrev), sigmoid);
  const cTilde = map(gate(w, "c", x, hPrev), Math.tanh);
  const cPrev = state.c!;
  const c = f.map((row, b) => row.map((fj, j) => fj * cPrev[b][j] + i[b][j] * cTilde[b][j]));
  const h = zip(o, map(c, Math.tanh), (a, b) => a * b);
  return { i, f, o, cTilde, c, h };
}

/** Runs one cell over `xs` `[T][B][D]`; outputs `[T][B][H]` and the final state. */
export function refSequence(
  kind: Kind,
  w: Named,
  xs: Mat[],
  state: RefState,
  options: RefOptions = {},
): { outputs: Mat[]; state: RefState } {
  const outputs: Mat[] = [];
  let current = state;
  for (const x of xs) {
    const g = refGates(kind, w, x, current, options);
    current = kind === "lstm" ? { h: g.h, c: g.c } : { h: g.h };
    outputs.push(current.h);
  }
  return { outputs, state: current };
}

function zeros(a: Mat): Mat {
  return a.map((row) => row.map(() => 0));
}

/** The gate blocks of each kind, in d2l naming. */
export const BLOCKS: Record<Kind, string[]> = {
  rnn: ["h"],
  gru: ["z", "r", "h"],
  lstm: ["i", "f", "o", "c"],
};

/** Uniform in [-scale, scale), rounded to float32 so both sides see the same numbers. */
export function randomMat(rows: number, cols: number, rng: Rng, scale = 1): Mat {
  return Array.from(
    { length: rows },
    () => Array.from({ length: cols }, () => Math.fround(scale * (2 * rng.next() - 1))),
  );
}

/** Random asymmetric weights under the d2l names (plus `b_hh` for a resetAfter gru). */
export function randomNamed(
  kind: Kind,
  D: number,
  H: number,
  rng: Rng,
  options: RefOptions = {},
  scale = 0.7,
): Named {
  const w: Named = {};
  for (const g of BLOCKS[kind]) {
    w[`W_x${g}`] = randomMat(D, H, rng, scale);
    w[`W_h${g}`] = randomMat(H, H, rng, scale);
    w[`b_${g}`] = randomMat(1, H, rng, scale)[0];
  }
  if (kind === "gru" && options.resetAfter) w.b_hh = randomMat(1, H, rng, scale)[0];
  return w;
}

/** Flattens nested arrays in row-major order. */
export function flat(a: unknown): number[] {
  return Array.isArray(a) ? a.flatMap(flat) : [a as number];
}

/** A fresh random generator for a test. */
export function rng(seed: number): Rng {
  return new Rng(seed);
}
