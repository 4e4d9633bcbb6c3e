/**
 * A plain-JS float64 reference for the cells over a sequence: no tfjs at
 * all, straight from d2l's equations, on the fused weight layout of
 * lib/cells/types.ts (gate blocks rnn [h], gru [z, r, h], lstm [i, f, o, c]).
 * Used for central finite differences, which need more precision than float32.
 */
import type { CellSpec } from "../../lib/cells/types.ts";

/** Row-major matrix. */
export interface Mat {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** Every input of a sequence, float64: the parameters the finite differences perturb. */
export interface Params64 {
  xs: Mat[]; // T matrices [B, D]
  Wx: Mat; // [D, G*H]
  Wh: Mat; // [H, G*H]
  b: Float64Array; // [G*H]
  bhh: Float64Array; // [H] (gru resetAfter)
  h0: Mat; // [B, H]
  c0: Mat; // [B, H] (lstm)
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** `x W[:, k*H .. (k+1)*H]` for a row `x` of length K. */
function rowTimesBlock(
  x: Float64Array,
  xOff: number,
  W: Mat,
  k: number,
  H: number,
  out: Float64Array,
): void {
  for (let j = 0; j < H; j++) {
    let s = 0;
    for (let i = 0; i < W.rows; i++) s += x[xOff + i] * W.data[i * W.cols + k * H + j];
    out[j] = s;
  }
}

/** Runs the cell; returns the per-step hidden states and the final (h, c), all `[B, H]`. */
export function forward64(
  spec: CellSpec,
  p: Params64,
): { hs: Float64Array[]; h: Float64Array; c: Float64Array } {
  const H = spec.hiddenSize, B = p.h0.rows;
  let h = Float64Array.from(p.h0.data), c = Float64Array.from(p.c0.data);
  const hs: Float64Array[] = [];
  const xa = new Float64Array(H), ha = new Float64Array(H);
  const pre = (x: Mat, hPrev: Float64Array, bRow: number, k: number): Float64Array => {
    rowTimesBlock(x.data, bRow * x.cols, p.Wx, k, H, xa);
    rowTimesBlock(hPrev, bRow * H, p.Wh, k, H, ha);
    return Float64Array.from({ length: H }, (_, j) => xa[j] + ha[j] + p.b[k * H + j]);
  };
  for (const x of p.xs) {
    const hNext = new Float64Array(B * H), cNext = new Float64Array(B * H);
    for (let r = 0; r < B; r++) {
      if (spec.kind === "rnn") {
        const a = pre(x, h, r, 0);
        for (let j = 0; j < H; j++) {
          hNext[r * H + j] = spec.nonlinearity === "relu" ? Math.max(0, a[j]) : Math.tanh(a[j]);
        }
      } else if (spec.kind === "gru") {
        const z = pre(x, h, r, 0).map(sigmoid), rr = pre(x, h, r, 1).map(sigmoid);
        rowTimesBlock(x.data, r * x.cols, p.Wx, 2, H, xa);
        if (spec.resetAfter) {
          rowTimesBlock(h, r * H, p.Wh, 2, H, ha);
          for (let j = 0; j < H; j++) ha[j] = rr[j] * (ha[j] + p.bhh[j]);
        } else {
          const rh = Float64Array.from({ length: H }, (_, j) => rr[j] * h[r * H + j]);
          rowTimesBlock(rh, 0, p.Wh, 2, H, ha);
        }
        for (let j = 0; j < H; j++) {
          const hc = Math.tanh(xa[j] + ha[j] + p.b[2 * H + j]);
          hNext[r * H + j] = z[j] * h[r * H + j] + (1 - z[j]) * hc;
        }
      } else {
        const i = pre(x, h, r, 0).map(sigmoid), f = pre(x, h, r, 1).map(sigmoid);
        const o = pre(x, h, r, 2).map(sigmoid), g = pre(x, h, r, 3).map(Math.tanh);
        for (let j = 0; j < H; j++) {
          const cj = f[j] * c[r * H + j] + i[j] * g[j];
          cNext[r * H + j] = cj;
          hNext[r * H + j] = o[j] * Math.tanh(cj);
        }
      }
    }
    h = hNext;
    if (spec.kind === "lstm") c = cNext;
    hs.push(h);
  }
  return { hs, h, c };
}

/** The test loss: a fixed random weighting of every output and of the final state. */
export interface LossWeights {
  outputs: Float64Array[]; // T x [B*H]
  h: Float64Array;
  c: Float64Array;
}

/** `sum(outputs ⊙ R) + sum(h_T ⊙ Rh) + sum(c_T ⊙ Rc)` in float64. */
export function loss64(spec: CellSpec, p: Params64, w: LossWeights): number {
  const { hs, h, c } = forward64(spec, p);
  let s = 0;
  hs.forEach((ht, t) => ht.forEach((v, k) => (s += v * w.outputs[t][k])));
  h.forEach((v, k) => (s += v * w.h[k]));
  if (spec.kind === "lstm") c.forEach((v, k) => (s += v * w.c[k]));
  return s;
}

/**
 * Central finite differences of `loss` with respect to every element of
 * `values` (perturbed in place, then restored), in float64.
 */
export function finiteDifferencesOf(
  loss: () => number,
  values: Float64Array,
  eps = 1e-6,
): Float64Array {
  return values.map((_, k) => centralDifference(loss, values, k, eps));
}

/**
 * The central difference of `loss` at element `k` of `values`, which the
 * loss reads (perturbed in place, then restored), in float64.
 */
export function centralDifference(
  loss: () => number,
  values: { [k: number]: number },
  k: number,
  eps = 1e-6,
): number {
  const v = values[k];
  values[k] = v + eps;
  const up = loss();
  values[k] = v - eps;
  const down = loss();
  values[k] = v;
  return (up - down) / (2 * eps);
}

/**
 * Central finite differences of {@linkcode loss64} with respect to every
 * element of one parameter array (modified in place, then restored).
 */
export function finiteDifferences(
  spec: CellSpec,
  p: Params64,
  w: LossWeights,
  values: Float64Array,
  eps = 1e-6,
): Float64Array {
  return finiteDifferencesOf(() => loss64(spec, p, w), values, eps);
}

/**
 * `op(a) op(b)` in float64 for row-major `a` (`[M, K]`, or `[K, M]` read
 * transposed when `ta`) and `b` (`[K, N]`, or `[N, K]` when `tb`): `[M, N]`.
 */
export function product64(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  [M, K, N]: [number, number, number],
  ta = false,
  tb = false,
): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        s += (ta ? a[k * M + i] : a[i * K + k]) * (tb ? b[j * K + k] : b[k * N + j]);
      }
      out[i * N + j] = s;
    }
  }
  return out;
}
