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
