/**
 * The variable-length gradient tests' case and losses: a seeded case with
 * garbage in the padding, the float32 loss through runSequence (and through a
 * stack) with lengths, and the float64 plain-JS loss that runs each sequence
 * alone over its own steps, for central finite differences.
 */
import { tf } from "../../lib/tf.ts";
import { Rng } from "../../lib/rng.ts";
import {
  type CellKind,
  type CellSpec,
  type FusedWeights,
  GATE_COUNT,
  type State,
} from "../../lib/cells/types.ts";
import { runSequence } from "../../lib/layers/sequence.ts";
import { type Recurrent, recurrent } from "../../lib/layers/stack.ts";
import { forward64, type Params64 } from "../kernels/_reference64.ts";
import { type CaseData, makeCase, normals, VARIANTS } from "../kernels/_helpers.ts";

/** Tolerance of the float32 analytic gradient against the float64 numeric one: atol + rtol |n|. */
export const [ATOL, RTOL] = [1e-4, 1e-3];
/** Sizes and lengths of every gradient case (one full, one of length 1). */
export const [T, D, H] = [5, 3, 4];
export const LENGTHS = [5, 1, 3, 2];
export const B = LENGTHS.length;

/** A case with moderate garbage (10 x N(0, 1)) in the padded inputs. */
export function caseOf(v: number): CaseData {
  const c = makeCase(VARIANTS[v], { T, B, D, H }, 3000 + 17 * v);
  const junk = normals(new Rng(4000 + v), T * B * D, 10);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      if (t < LENGTHS[b]) continue;
      for (let i = 0; i < D; i++) c.xs[(t * B + b) * D + i] = junk[(t * B + b) * D + i];
    }
  }
  return c;
}

/** The inputs the gradient is taken of, by name, in a fixed order. */
export function inputNames(spec: CellSpec): string[] {
  const names = ["xs", "Wx", "Wh", "b", "h0"];
  if (spec.kind === "lstm") names.push("c0");
  if (spec.resetAfter) names.push("bhh");
  return names;
}

/** One input of a case by name. */
export function inputData(c: CaseData, name: string): Float32Array {
  return (c as unknown as Record<string, Float32Array>)[name];
}

/** The shape of one input of a case by name. */
export function inputShape(c: CaseData, name: string): number[] {
  const G = GATE_COUNT[c.spec.kind];
  const shapes: Record<string, number[]> = {
    xs: [T, B, D],
    Wx: [D, G * H],
    Wh: [H, G * H],
    b: [G * H],
    bhh: [H],
    h0: [B, H],
    c0: [B, H],
  };
  return shapes[name];
}

/**
 * The loss Σ outputs ⊙ R + Σ h ⊙ Rh (+ Σ c ⊙ Rc) through runSequence; R is
 * non-zero in the padding too. With `b`, the inputs are sequence b alone
 * (batch 1) and the loss takes its own rows of R, Rh and Rc.
 */
export function tfLoss(c: CaseData, lengths: number[] | undefined, b?: number) {
  const names = inputNames(c.spec);
  return (...inputs: tf.Tensor[]): tf.Scalar => {
    const m = Object.fromEntries(names.map((n, i) => [n, inputs[i]]));
    const weights: FusedWeights = {
      Wx: m.Wx as tf.Tensor2D,
      Wh: m.Wh as tf.Tensor2D,
      b: m.b as tf.Tensor1D,
    };
    if (m.bhh) weights.bhh = m.bhh as tf.Tensor1D;
    const state: State = { h: m.h0 as tf.Tensor2D };
    if (m.c0) state.c = m.c0 as tf.Tensor2D;
    const xs = m.xs as tf.Tensor3D;
    const n = xs.shape[0];
    const r = runSequence(c.spec, weights, xs, state, lengths ? { lengths } : undefined);
    const R = tf.tensor3d(c.R, [T, B, H]);
    const rowOf = (data: Float32Array) => {
      const all = tf.tensor2d(data, [B, H]);
      return b === undefined ? all : tf.slice(all, [b, 0], [1, H]);
    };
    const Rb = b === undefined ? R : tf.slice(R, [0, b, 0], [n, 1, H]);
    let loss = tf.add(tf.sum(tf.mul(r.outputs, Rb)), tf.sum(tf.mul(r.state.h, rowOf(c.Rh))));
    if (r.state.c) loss = tf.add(loss, tf.sum(tf.mul(r.state.c, rowOf(c.Rc))));
    return loss as tf.Scalar;
  };
}

/** Float64 copies of the inputs, which the finite differences perturb in place. */
export type P64 = Record<string, Float64Array>;

/** The same loss in float64, each sequence run alone over its own steps (the padding is never read). */
export function refLoss(c: CaseData, p: P64): number {
  const { spec } = c;
  const G = GATE_COUNT[spec.kind];
  let s = 0;
  for (const [b, n] of LENGTHS.entries()) {
    const params: Params64 = {
      xs: Array.from({ length: n }, (_, t) => ({
        rows: 1,
        cols: D,
        data: p.xs.subarray((t * B + b) * D, (t * B + b + 1) * D),
      })),
      Wx: { rows: D, cols: G * H, data: p.Wx },
      Wh: { rows: H, cols: G * H, data: p.Wh },
      b: p.b,
      bhh: p.bhh ?? new Float64Array(H),
      h0: { rows: 1, cols: H, data: p.h0.subarray(b * H, (b + 1) * H) },
      c0: {
        rows: 1,
        cols: H,
        data: (p.c0 ?? new Float64Array(B * H)).subarray(b * H, (b + 1) * H),
      },
    };
    const { hs, h, c: cT } = forward64(spec, params);
    hs.forEach((ht, t) => ht.forEach((v, j) => (s += v * c.R[(t * B + b) * H + j])));
    h.forEach((v, j) => (s += v * c.Rh[b * H + j]));
    if (spec.kind === "lstm") cT.forEach((v, j) => (s += v * c.Rc[b * H + j]));
  }
  return s;
}

// ---------------------------------------------------------------- stacks

/** A 2-layer bidirectional stack of variant `v` with Glorot weights. */
export function stackOf(v: number): Recurrent {
  const { kind, nonlinearity, resetAfter } = VARIANTS[v].spec;
  return recurrent({
    cell: kind as CellKind,
    inputSize: D,
    hiddenSize: H,
    layers: 2,
    bidirectional: true,
    nonlinearity,
    resetAfter,
    init: "xavier",
    seed: 50 + v,
  });
}

/** Loss weights of a 2-layer bidirectional stack: outputs [T, B, 2H] and one [B, H] per state tensor. */
export function stackCoefficients(v: number, stack: Recurrent) {
  const rng = new Rng(6000 + v);
  const perState = stack.options.cell === "lstm" ? 2 : 1;
  return {
    R: normals(rng, T * B * stack.outputSize),
    Rs: Array.from({ length: stack.cells.length * perState }, () => normals(rng, B * H)),
  };
}

/**
 * Σ outputs ⊙ R + Σ_k state_k ⊙ R_k through the stack; with `b`, `xs` is
 * sequence b alone and the loss takes its own rows.
 */
export function stackLoss(
  stack: Recurrent,
  coef: ReturnType<typeof stackCoefficients>,
  xs: tf.Tensor3D,
  lengths: number[] | undefined,
  b?: number,
): tf.Scalar {
  const W = stack.outputSize;
  const { outputs, state } = stack.forward(xs, lengths ? { lengths } : {});
  const n = xs.shape[0];
  const pickR = (data: Float32Array, width: number, rows: number): tf.Tensor =>
    b === undefined
      ? tf.tensor(data.slice(0, rows * B * width), [rows, B, width])
      : tf.slice(tf.tensor(data.slice(0, rows * B * width), [rows, B, width]), [0, b, 0], [
        rows,
        1,
        width,
      ]);
  let loss = tf.sum(tf.mul(outputs, pickR(coef.R, W, n)));
  const tensors = state.flatMap((s) => (s.c ? [s.h, s.c] : [s.h]));
  tensors.forEach((s, k) => {
    const Rk = tf.reshape(pickR(coef.Rs[k], H, 1), b === undefined ? [B, H] : [1, H]);
    loss = tf.add(loss, tf.sum(tf.mul(s, Rk)));
  });
  return loss as tf.Scalar;
}
