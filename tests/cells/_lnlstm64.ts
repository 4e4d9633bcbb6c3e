/**
 * A plain-JS float64 reference of the layer-normalized LSTM (Ba, Kiros &
 * Hinton 2016), written from the paper's equations, independent of
 * lib/cells/lnlstm.ts: weights per gate under the d2l names, LayerNorm over
 * all 4H pre-activations of each source and over the H cell entries.
 */
import { Rng } from "../../lib/rng.ts";

export type Mat = number[][];
export type Vec = number[];
/** Weights under the d2l names: W_x{g} [D, H], W_h{g} [H, H], b_{g} [H], LN gains and shifts. */
export type LnNamed = Record<string, Mat | Vec>;
/** A state of B rows. */
export interface LnState {
  h: Mat;
  c: Mat;
}

export const GATES = ["i", "f", "o", "c"] as const;
export const EPS = 1e-5;

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

function layerNormRow(z: Vec, g: Vec, beta: Vec): Vec {
  const mean = z.reduce((a, v) => a + v, 0) / z.length;
  const variance = z.reduce((a, v) => a + (v - mean) ** 2, 0) / z.length;
  const s = Math.sqrt(variance + EPS);
  return z.map((v, k) => g[k] * (v - mean) / s + beta[k]);
}

/** One row's concatenated pre-activations, blocks i, f, o, c: v [W_{v,i} .. W_{v,c}]. */
function projectRow(v: Vec, w: LnNamed, src: "x" | "h", H: number): Vec {
  const out: Vec = [];
  for (const g of GATES) {
    const W = w[`W_${src}${g}`] as Mat;
    for (let j = 0; j < H; j++) {
      let sum = 0;
      for (let k = 0; k < v.length; k++) sum += v[k] * W[k][j];
      out.push(sum);
    }
  }
  return out;
}

/** One step of every row. */
export function lnStep(w: LnNamed, x: Mat, state: LnState): LnState {
  const H = state.h[0].length;
  const h: Mat = [], c: Mat = [];
  x.forEach((xr, r) => {
    const ax = layerNormRow(projectRow(xr, w, "x", H), w.g_x as Vec, w.beta_x as Vec);
    const ah = layerNormRow(projectRow(state.h[r], w, "h", H), w.g_h as Vec, w.beta_h as Vec);
    const b = GATES.flatMap((g) => w[`b_${g}`] as Vec);
    const a = ax.map((v, k) => v + ah[k] + b[k]);
    const cr: Vec = [];
    for (let j = 0; j < H; j++) {
      const i = sigmoid(a[j]), f = sigmoid(a[H + j]), cTilde = Math.tanh(a[3 * H + j]);
      cr.push(f * state.c[r][j] + i * cTilde);
    }
    const cn = layerNormRow(cr, w.g_c as Vec, w.beta_c as Vec);
    h.push(cn.map((v, j) => sigmoid(a[2 * H + j]) * Math.tanh(v)));
    c.push(cr);
  });
  return { h, c };
}

/**
 * A padded batch with lengths, PyTorch's packed semantics: row r runs its
 * first `lengths[r]` steps; outputs past it are 0; its final state is the one
 * after its last real step.
 */
export function lnSequence(
  w: LnNamed,
  xs: Mat[],
  start: LnState,
  lengths: number[],
): { outputs: Mat[]; state: LnState } {
  const B = start.h.length, H = start.h[0].length;
  const outputs: Mat[] = xs.map(() => Array.from({ length: B }, () => Array(H).fill(0)));
  const finals: LnState = { h: [], c: [] };
  for (let r = 0; r < B; r++) {
    let s: LnState = { h: [start.h[r]], c: [start.c[r]] };
    for (let t = 0; t < lengths[r]; t++) {
      s = lnStep(w, [xs[t][r]], s);
      outputs[t][r] = s.h[0];
    }
    finals.h.push(s.h[0]);
    finals.c.push(s.c[0]);
  }
  return { outputs, state: finals };
}

/** A random matrix, entries in (-scale, scale). */
export function randomMat(rows: number, cols: number, rng: Rng, scale = 1): Mat {
  return Array.from(
    { length: rows },
    () => Array.from({ length: cols }, () => scale * (2 * rng.next() - 1)),
  );
}

/** Random asymmetric weights: kernels in (-0.6, 0.6), gains around 1, shifts and biases nonzero. */
export function randomLnNamed(D: number, H: number, seed: number): LnNamed {
  const rng = new Rng(seed);
  const w: LnNamed = {};
  for (const g of GATES) {
    w[`W_x${g}`] = randomMat(D, H, rng, 0.6);
    w[`W_h${g}`] = randomMat(H, H, rng, 0.6);
    w[`b_${g}`] = randomMat(1, H, rng, 0.3)[0];
  }
  const around1 = (n: number) => randomMat(1, n, rng, 0.4)[0].map((v) => 1 + v);
  w.g_x = around1(4 * H);
  w.beta_x = randomMat(1, 4 * H, rng, 0.3)[0];
  w.g_h = around1(4 * H);
  w.beta_h = randomMat(1, 4 * H, rng, 0.3)[0];
  w.g_c = around1(H);
  w.beta_c = randomMat(1, H, rng, 0.3)[0];
  return w;
}
