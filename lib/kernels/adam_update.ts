/**
 * One Adam update of one variable as a single op, with a wasm fast path.
 *
 * tfjs's Adam spends about a dozen ops per variable and step (each with its
 * own allocation and dispatch); for a small model those ops cost more than the
 * arithmetic. On wasm this kernel does the whole update in one pass over the
 * heap, in float64 with one rounding to float32 per stored value (tfjs rounds
 * after every op), so it agrees with `tf.train.adam` to float32 rounding, not
 * bit for bit (a test bounds the difference); on native one C call does the
 * same in float64, on the optimizer's own moment arrays in place once it has
 * made them. On every other backend the formula runs as tf ops in tfjs's
 * order: bit for bit `tf.train.adam`.
 *
 * The formula (tfjs 4.22's `AdamOptimizer`, ε added outside the square root):
 *   m' = β1 m + (1 - β1) g;  v' = β2 v + (1 - β2) g²
 *   p' = p - lr (m' / (1 - β1ᵗ)) / (sqrt(v' / (1 - β2ᵗ)) + ε)
 *
 * @module
 */
import type { Scalar, Tensor, Variable } from "../ops/tensors.ts";
import { tf } from "../tf.ts";
import {
  heapOffset,
  type KernelArgs,
  registerWasmKernel,
  runKernel,
  useWasmPath,
  type WasmHeapBackend,
} from "./_wasm_heap.ts";

import {
  checkLength,
  cpuBackendOf,
  nativeKernels,
  sharesMemory,
  valuesOf,
} from "../native/backend.ts";

const ADAM_KERNEL = "RnnDenoAdamUpdate";

/** Adam's constants for one step. */
export interface AdamCoefficients {
  /** The step size. */
  learningRate: number;
  /** Decay of the first moment (0.9 in tfjs). */
  beta1: number;
  /** Decay of the second moment (0.999 in tfjs). */
  beta2: number;
  /** Added to the root of the second moment. */
  epsilon: number;
}

function adamKernel(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmHeapBackend;
  const { p, g, m, v, accBeta1, accBeta2 } = args.inputs as Record<string, tf.TensorInfo>;
  const { learningRate, beta1, beta2, epsilon } = args.attrs as AdamCoefficients;
  const outs = [p, m, v].map((t) => backend.makeOutput(t.shape, "float32"));
  // Offsets after makeOutput: an allocation may grow (and move) the heap.
  const { heap } = heapOffset(backend, p);
  const [P, G, M, V, P2, M2, V2, A1, A2] = [p, g, m, v, ...outs, accBeta1, accBeta2].map((t) =>
    heapOffset(backend, t).offset
  );
  const c1 = 1 - beta1, c2 = 1 - beta2, step = -learningRate;
  // Bias corrections as reciprocals: one division per element instead of three.
  const r1 = 1 / Math.fround(1 - heap[A1]), r2 = 1 / Math.fround(1 - heap[A2]);
  const n = p.shape.reduce((a, b) => a * b, 1);
  for (let i = 0; i < n; i++) {
    const gi = heap[G + i];
    const mi = heap[M + i] * beta1 + gi * c1;
    const vi = heap[V + i] * beta2 + gi * gi * c2;
    heap[P2 + i] = heap[P + i] + step * (mi * r1) / (Math.sqrt(vi * r2) + epsilon);
    heap[M2 + i] = mi;
    heap[V2 + i] = vi;
  }
  return outs;
}
registerWasmKernel(ADAM_KERNEL, adamKernel);

/** What one update reads: the variable's value `p`, its gradient `g` and moments `m`, `v` (all one shape), and β1ᵗ, β2ᵗ (float32 scalars, t this step from 1). */
export interface AdamTensors {
  /** The variable's value. */
  p: Tensor;
  /** Its gradient. */
  g: Tensor;
  /** The first moment. */
  m: Tensor;
  /** The second moment. */
  v: Tensor;
  /** β1ᵗ. */
  accBeta1: Scalar;
  /** β2ᵗ. */
  accBeta2: Scalar;
}

/** The same update as tf ops, in tfjs's order (every backend but wasm). */
function adamOps(t: AdamTensors, k: AdamCoefficients): [Tensor, Tensor, Tensor] {
  return tf.tidy(() => {
    const m2 = tf.add(tf.mul(t.m, k.beta1), tf.mul(t.g, 1 - k.beta1));
    const v2 = tf.add(tf.mul(t.v, k.beta2), tf.mul(tf.square(t.g), 1 - k.beta2));
    const mHat = tf.div(m2, tf.sub(1, t.accBeta1));
    const vHat = tf.div(v2, tf.sub(1, t.accBeta2));
    const p2 = tf.add(tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), k.epsilon)), -k.learningRate), t.p);
    return [p2, m2, v2];
  });
}

/** The moment arrays {@linkcode adamNative} made (and may later update in place). */
const ownMoments = new WeakSet<Float32Array>();

/**
 * The update as one C call (the native backend; same formula as wasm's) on a
 * copy of p and on copies of m, v (marked as this module's), or on m, v
 * themselves when `momentsInPlace`. Returns the new value and moments' arrays.
 */
function adamNative(
  lib: NonNullable<ReturnType<typeof nativeKernels>>,
  t: AdamTensors,
  k: AdamCoefficients,
  momentsInPlace: boolean,
  gradScale = 1,
): [Float32Array, Float32Array, Float32Array] {
  const backend = tf.backend();
  const n = t.p.size;
  const [p, g, m, v] = [t.p, t.g, t.m, t.v].map((x) => {
    const values = valuesOf(backend, x);
    checkLength("adamUpdate", "a tensor", values, n);
    return values;
  });
  const p2 = p.slice();
  const [m2, v2] = momentsInPlace ? [m, v] : [m.slice(), v.slice()];
  ownMoments.add(m2);
  ownMoments.add(v2);
  const [a1] = valuesOf(backend, t.accBeta1), [a2] = valuesOf(backend, t.accBeta2);
  lib.rnn_adam(
    BigInt(n),
    p2,
    g,
    m2,
    v2,
    k.learningRate,
    k.beta1,
    k.beta2,
    k.epsilon,
    a1,
    a2,
    gradScale,
  );
  return [p2, m2, v2];
}

/**
 * One Adam step on the native backend with the moments updated in place: the
 * variable's new value (a new tensor the caller assigns), or null where that
 * cannot be done (then the caller uses {@linkcode adamUpdate} and assigns all
 * three). In place only for moment arrays that this module's update made and
 * that only their variable holds: never an array a caller passed in (tfjs
 * keeps a typed array given to `tf.tensor` without a copy) nor one a clone
 * shares. The same C call as {@linkcode adamUpdate}'s on native, so the same
 * values to the bit, without two fresh copies of the variable's size a step.
 * With `gradScale`, the gradient is first multiplied by it in float32, as
 * `tf.mul(g, scale)` would (a clip's factor, without the scaled copy).
 *
 * @example Off the native backend, or on a first step, null
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const m = tf.variable(tf.zeros([2])), v = tf.variable(tf.zeros([2]));
 * const p = adamUpdateMomentsInPlace(
 *   { p: tf.tensor1d([1, 1]), g: tf.tensor1d([0.5, -2]), m, v, accBeta1: tf.scalar(0.9), accBeta2: tf.scalar(0.999) },
 *   { learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
 * );
 * strictEqual(p, null); // zeros made by tf.zeros: not this module's arrays
 * ```
 */
export function adamUpdateMomentsInPlace(
  tensors: AdamTensors & { m: Variable; v: Variable },
  coefficients: AdamCoefficients,
  gradScale = 1,
): Tensor | null {
  const lib = nativeKernels();
  if (!lib || Object.values(tensors).some((t) => t.dtype !== "float32")) return null;
  const backend = cpuBackendOf({ backend: tf.backend() });
  const { m, v } = tensors;
  const own = (x: Variable) => {
    const values = valuesOf(backend, x);
    // sharesMemory: a slice of a moment taken as a view would see the update
    return backend.refCount(x.dataId) === 1 && ownMoments.has(values) && !sharesMemory(values);
  };
  if (!own(m) || !own(v)) return null;
  const [p2] = adamNative(lib, tensors, coefficients, true, gradScale);
  return tf.tensor(p2, tensors.p.shape);
}

/**
 * One Adam step of a variable: its new value and moments.
 *
 * @returns `[p', m', v']`, new tensors the caller disposes (or assigns).
 *
 * @example One step from zero moments moves the value by about lr against the gradient's sign
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * const [p, m, v] = adamUpdate(
 *   { p: tf.tensor1d([1, 1]), g: tf.tensor1d([0.5, -2]), m: tf.zeros([2]), v: tf.zeros([2]),
 *     accBeta1: tf.scalar(0.9), accBeta2: tf.scalar(0.999) },
 *   { learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
 * );
 * const moved = await p.data();
 * ok(Math.abs(moved[0] - 0.9) < 1e-5 && Math.abs(moved[1] - 1.1) < 1e-5);
 * tf.dispose([p, m, v]);
 * ```
 */
export function adamUpdate(
  tensors: AdamTensors,
  coefficients: AdamCoefficients,
): [Tensor, Tensor, Tensor] {
  const native = nativeKernels();
  if (native && Object.values(tensors).every((t) => t.dtype === "float32")) {
    const [p2, m2, v2] = adamNative(native, tensors, coefficients, false);
    return [
      tf.tensor(p2, tensors.p.shape),
      tf.tensor(m2, tensors.m.shape),
      tf.tensor(v2, tensors.v.shape),
    ];
  }
  if (!useWasmPath(Object.values(tensors))) return adamOps(tensors, coefficients);
  return runKernel<[Tensor, Tensor, Tensor]>(ADAM_KERNEL, { ...tensors }, coefficients);
}
