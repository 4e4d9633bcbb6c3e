/** Shared pieces of the kernel tests: seeded cases, comparisons, backend switching. */
import { ok } from "node:assert";
import { tf, useBackend } from "../../lib/tf.ts";
import { Rng } from "../../lib/rng.ts";
import {
  type CellSpec,
  type FusedWeights,
  GATE_COUNT,
  type SequenceResult,
  type State,
} from "../../lib/cells/types.ts";
import type { Params64 } from "./_reference64.ts";

/** Every variant the fused kernel supports, with a readable name. */
export const VARIANTS: { name: string; spec: Omit<CellSpec, "inputSize" | "hiddenSize"> }[] = [
  { name: "rnn (tanh)", spec: { kind: "rnn", nonlinearity: "tanh" } },
  { name: "rnn (relu)", spec: { kind: "rnn", nonlinearity: "relu" } },
  { name: "gru (reset before)", spec: { kind: "gru", resetAfter: false } },
  { name: "gru (reset after)", spec: { kind: "gru", resetAfter: true } },
  { name: "lstm", spec: { kind: "lstm" } },
];

/** Float32-representable normal samples from a seeded generator (Box-Muller). */
export function normals(rng: Rng, n: number, std = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rng.next(), 1e-12), v = rng.next();
    out[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

/** The raw numbers of one test case (so both float32 and float64 code see the same values). */
export interface CaseData {
  spec: CellSpec;
  T: number;
  B: number;
  xs: Float32Array; // [T, B, D]
  Wx: Float32Array;
  Wh: Float32Array;
  b: Float32Array;
  bhh: Float32Array;
  h0: Float32Array;
  c0: Float32Array;
  R: Float32Array; // loss weights for outputs [T, B, H]
  Rh: Float32Array;
  Rc: Float32Array;
}

/**
 * A random asymmetric case: weights ~N(0, std²) (default 0.5: gates away from
 * saturation; wider cases want less so a relu RNN does not blow up).
 */
export function makeCase(
  variant: (typeof VARIANTS)[number],
  dims: { T: number; B: number; D: number; H: number },
  seed: number,
  std = 0.5,
): CaseData {
  const { T, B, D, H } = dims;
  const G = GATE_COUNT[variant.spec.kind];
  const rng = new Rng(seed);
  return {
    spec: { ...variant.spec, inputSize: D, hiddenSize: H },
    T,
    B,
    xs: normals(rng, T * B * D),
    Wx: normals(rng, D * G * H, std),
    Wh: normals(rng, H * G * H, std),
    b: normals(rng, G * H, std),
    bhh: normals(rng, H, std),
    h0: normals(rng, B * H, 0.5),
    c0: normals(rng, B * H, 0.5),
    R: normals(rng, T * B * H),
    Rh: normals(rng, B * H),
    Rc: normals(rng, B * H),
  };
}

/** The case as tensors (on the current backend), in the order the gradients are checked. */
export interface CaseTensors {
  names: string[];
  inputs: tf.Tensor[];
  R: tf.Tensor3D;
  Rh: tf.Tensor2D;
  Rc: tf.Tensor2D;
}

export function caseTensors(c: CaseData): CaseTensors {
  const { D, H } = { D: c.spec.inputSize, H: c.spec.hiddenSize };
  const G = GATE_COUNT[c.spec.kind];
  const names = ["xs", "Wx", "Wh", "b", "h0"];
  const inputs: tf.Tensor[] = [
    tf.tensor3d(c.xs, [c.T, c.B, D]),
    tf.tensor2d(c.Wx, [D, G * H]),
    tf.tensor2d(c.Wh, [H, G * H]),
    tf.tensor1d(c.b),
    tf.tensor2d(c.h0, [c.B, H]),
  ];
  if (c.spec.kind === "lstm") names.push("c0"), inputs.push(tf.tensor2d(c.c0, [c.B, H]));
  if (c.spec.resetAfter) names.push("bhh"), inputs.push(tf.tensor1d(c.bhh));
  return {
    names,
    inputs,
    R: tf.tensor3d(c.R, [c.T, c.B, H]),
    Rh: tf.tensor2d(c.Rh, [c.B, H]),
    Rc: tf.tensor2d(c.Rc, [c.B, H]),
  };
}

/** Unpacks `inputs` (ordered as `names`) into the arguments of a sequence function. */
export function unpack(
  names: string[],
  inputs: tf.Tensor[],
): { weights: FusedWeights; xs: tf.Tensor3D; state: State } {
  const m = Object.fromEntries(names.map((n, i) => [n, inputs[i]]));
  return {
    weights: {
      Wx: m.Wx as tf.Tensor2D,
      Wh: m.Wh as tf.Tensor2D,
      b: m.b as tf.Tensor1D,
      bhh: m.bhh as tf.Tensor1D | undefined,
    },
    xs: m.xs as tf.Tensor3D,
    state: { h: m.h0 as tf.Tensor2D, c: m.c0 as tf.Tensor2D | undefined },
  };
}

/** A sequence implementation under test; `null` means it declined the case. */
export type SequenceFn = (
  spec: CellSpec,
  weights: FusedWeights,
  xs: tf.Tensor3D,
  state: State,
) => SequenceResult | null;

/**
 * The test loss Σ outputs·R + Σ h·Rh (+ Σ c·Rc) as a function of the case's
 * inputs, so every result of the sequence reaches the gradient.
 */
export function lossOf(f: SequenceFn, spec: CellSpec, t: CaseTensors) {
  return (...inputs: tf.Tensor[]): tf.Scalar => {
    const { weights, xs, state } = unpack(t.names, inputs);
    const r = f(spec, weights, xs, state);
    if (r === null) throw new Error(`the implementation declined a ${spec.kind} case`);
    let loss = tf.add(tf.sum(tf.mul(r.outputs, t.R)), tf.sum(tf.mul(r.state.h, t.Rh)));
    if (r.state.c) loss = tf.add(loss, tf.sum(tf.mul(r.state.c, t.Rc)));
    return loss as tf.Scalar;
  };
}

/**
 * Asserts `|actual - expected| <= rtol * max|expected| + atol` elementwise.
 * Reads with `await data()` (never dataSync: webgpu in Deno cannot).
 */
export async function assertClose(
  actual: tf.Tensor | Float32Array | Float64Array,
  expected: tf.Tensor | Float32Array | Float64Array,
  rtol: number,
  label: string,
  atol = 0,
): Promise<void> {
  const a = actual instanceof tf.Tensor ? await actual.data() : actual;
  const e = expected instanceof tf.Tensor ? await expected.data() : expected;
  ok(a.length === e.length, `${label}: ${a.length} values, expected ${e.length}`);
  let scale = 0;
  for (const v of e) scale = Math.max(scale, Math.abs(v));
  const tol = rtol * scale + atol;
  let worst = 0, at = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - e[i]);
    if (!(d <= worst)) worst = d, at = i;
  }
  ok(
    worst <= tol,
    `${label}: max |difference| ${worst.toExponential(2)} at ${at} (${a[at]} vs ${e[at]}) ` +
      `exceeds ${tol.toExponential(2)} (rtol ${rtol} of max |expected| ${scale.toExponential(2)})`,
  );
}

/** Runs `f` on a backend, then goes back to cpu. */
export async function onBackend(name: string, f: () => Promise<void> | void): Promise<void> {
  await useBackend(name);
  try {
    await f();
  } finally {
    await useBackend("cpu");
  }
}

/** Tolerances of {@linkcode compareSequences}: `rtol`/`atol` of the results, `gradRtol` of the gradients. */
export interface SequenceTolerances {
  rtol: number;
  atol: number;
  gradRtol: number;
}

/**
 * Asserts that `got` matches `want` on a case: the outputs, the final state
 * (its `c` in both or neither) and the gradient of the test loss
 * ({@linkcode lossOf}) for every input. Disposes everything it made.
 */
export async function compareSequences(
  got: SequenceFn,
  want: SequenceFn,
  c: CaseData,
  label: string,
  tol: SequenceTolerances,
): Promise<void> {
  const t = caseTensors(c);
  const { weights, xs, state } = unpack(t.names, t.inputs);
  const a = got(c.spec, weights, xs, state);
  ok(a !== null, `${label}: the implementation under test returned null`);
  const b = want(c.spec, weights, xs, state);
  ok(b !== null, `${label}: the reference returned null`);
  await assertClose(a.outputs, b.outputs, tol.rtol, `${label} outputs`, tol.atol);
  await assertClose(a.state.h, b.state.h, tol.rtol, `${label} h`, tol.atol);
  ok((a.state.c === undefined) === (b.state.c === undefined), `${label}: state.c presence`);
  if (a.state.c) await assertClose(a.state.c, b.state.c!, tol.rtol, `${label} c`, tol.atol);
  const gGot = tf.grads(lossOf(got, c.spec, t))(t.inputs);
  const gWant = tf.grads(lossOf(want, c.spec, t))(t.inputs);
  for (const [i, name] of t.names.entries()) {
    await assertClose(gGot[i], gWant[i], tol.gradRtol, `${label} d${name}`);
  }
  tf.dispose([...t.inputs, t.R, t.Rh, t.Rc, ...gGot, ...gWant]);
  tf.dispose([a.outputs, a.state.h, b.outputs, b.state.h]);
  tf.dispose([a.state.c, b.state.c].filter((x): x is tf.Tensor2D => x !== undefined));
}

/** A case's numbers as float64 parameters (the same values as its float32 tensors). */
export function params64(c: CaseData): Params64 {
  const D = c.spec.inputSize, H = c.spec.hiddenSize;
  const mat = (data: Float32Array, rows: number, cols: number) => ({
    rows,
    cols,
    data: Float64Array.from(data),
  });
  return {
    xs: Array.from(
      { length: c.T },
      (_, t) => mat(c.xs.subarray(t * c.B * D, (t + 1) * c.B * D), c.B, D),
    ),
    Wx: mat(c.Wx, D, c.Wx.length / D),
    Wh: mat(c.Wh, H, c.Wh.length / H),
    b: Float64Array.from(c.b),
    bhh: Float64Array.from(c.bhh),
    h0: mat(c.h0, c.B, H),
    c0: mat(c.c0, c.B, H),
  };
}

/**
 * The float64 gradient of the case input `name` by finite differences: `fd`
 * perturbs one of the parameters' own arrays (so the loss sees each nudge)
 * and returns its gradient; `xs` runs step by step, flattened in order.
 */
export function gradient64(
  p: Params64,
  name: string,
  fd: (values: Float64Array) => Float64Array,
): Float64Array {
  if (name === "xs") return new Float64Array(p.xs.flatMap((x) => [...fd(x.data)]));
  const arrays: Record<string, Float64Array> = {
    Wx: p.Wx.data,
    Wh: p.Wh.data,
    b: p.b,
    h0: p.h0.data,
    c0: p.c0.data,
    bhh: p.bhh,
  };
  return fd(arrays[name]);
}
