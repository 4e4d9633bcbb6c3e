/**
 * A plain-JS float64 reference for the attention layers, straight from d2l
 * §11.3: the masked softmax, dot-product and additive scores, and the
 * weighted sum of the values. All arrays are flat and row-major.
 */

/** The sizes of one attention case: batch, queries, keys, value width. */
export interface Dims {
  B: number;
  Q: number;
  K: number;
  V: number;
}

/** How many keys are valid for batch row `b` and query `q`. */
export type Lengths = (b: number, q: number) => number;

/** Every key valid. */
export const allKeys = (K: number): Lengths => () => K;

/** Weights `[B, Q, K]`: a softmax over the first `lengths(b, q)` keys, zeros after. */
export function maskedSoftmax64(scores: Float64Array, dims: Dims, lengths: Lengths): Float64Array {
  const { B, Q, K } = dims;
  const w = new Float64Array(B * Q * K);
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < Q; q++) {
      const n = lengths(b, q), row = (b * Q + q) * K;
      if (n === 0) continue;
      let max = -Infinity;
      for (let k = 0; k < n; k++) max = Math.max(max, scores[row + k]);
      let sum = 0;
      for (let k = 0; k < n; k++) sum += w[row + k] = Math.exp(scores[row + k] - max);
      for (let k = 0; k < n; k++) w[row + k] /= sum;
    }
  }
  return w;
}

/** Scores `[B, Q, K]` = q·k / sqrt(d), queries `[B, Q, d]`, keys `[B, K, d]`. */
export function dotScores64(
  queries: Float64Array,
  keys: Float64Array,
  dims: Dims,
  d: number,
): Float64Array {
  const { B, Q, K } = dims;
  const s = new Float64Array(B * Q * K);
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < Q; q++) {
      for (let k = 0; k < K; k++) {
        let dot = 0;
        for (let i = 0; i < d; i++) dot += queries[(b * Q + q) * d + i] * keys[(b * K + k) * d + i];
        s[(b * Q + q) * K + k] = dot / Math.sqrt(d);
      }
    }
  }
  return s;
}

/** The additive attention's weights: `W_q [dq, h]`, `W_k [dk, h]`, `w_v [h, 1]`. */
export interface Additive64 {
  Wq: Float64Array;
  Wk: Float64Array;
  wv: Float64Array;
  dq: number;
  dk: number;
  h: number;
}

/** `x [rows, n] W [n, h]`. */
function project(x: Float64Array, W: Float64Array, rows: number, n: number, h: number) {
  const y = new Float64Array(rows * h);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < h; j++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += x[r * n + i] * W[i * h + j];
      y[r * h + j] = s;
    }
  }
  return y;
}

/** Scores `[B, Q, K]` = w_v · tanh(W_q q + W_k k). */
export function additiveScores64(
  queries: Float64Array,
  keys: Float64Array,
  dims: Dims,
  p: Additive64,
): Float64Array {
  const { B, Q, K } = dims, { h } = p;
  const qp = project(queries, p.Wq, B * Q, p.dq, h), kp = project(keys, p.Wk, B * K, p.dk, h);
  const s = new Float64Array(B * Q * K);
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < Q; q++) {
      for (let k = 0; k < K; k++) {
        let sum = 0;
        for (let j = 0; j < h; j++) {
          sum += p.wv[j] * Math.tanh(qp[(b * Q + q) * h + j] + kp[(b * K + k) * h + j]);
        }
        s[(b * Q + q) * K + k] = sum;
      }
    }
  }
  return s;
}

/** Context `[B, Q, V]` = Σ_k w[b, q, k] v[b, k, :]. */
export function context64(weights: Float64Array, values: Float64Array, dims: Dims): Float64Array {
  const { B, Q, K, V } = dims;
  const c = new Float64Array(B * Q * V);
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < Q; q++) {
      for (let k = 0; k < K; k++) {
        const w = weights[(b * Q + q) * K + k];
        for (let j = 0; j < V; j++) c[(b * Q + q) * V + j] += w * values[(b * K + k) * V + j];
      }
    }
  }
  return c;
}
