/**
 * The checks every cell kind goes through, written once and registered by
 * each kind's test file: gate by gate against the float64 reference, whole
 * sequences through the cell object, and a finite-difference gradient check.
 */
import { deepStrictEqual, ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { centralDifference } from "../kernels/_reference64.ts";
import type { CellSpec, FusedWeights, NamedWeights, State } from "../../lib/cells/types.ts";
import { rnnWeightsToNamed } from "../../lib/cells/rnn.ts";
import { gruWeightsToNamed } from "../../lib/cells/gru.ts";
import { lstmWeightsToNamed } from "../../lib/cells/lstm.ts";
import { gruCell, lstmCell, type RecurrentCell, rnnCell } from "../../lib/layers/cell.ts";
import {
  type Mat,
  type Named,
  randomMat,
  randomNamed,
  refGates,
  refSequence,
  type RefState,
  rng,
} from "../_reference.ts";
import {
  assertClose,
  fusedFromReference,
  namedTensors,
  SHAPES,
  specOf,
  stateTensors,
  tensor2d,
  tensor3d,
  values,
  type Variant,
} from "./_helpers.ts";

/** Tolerance of float32 tfjs against the float64 reference, forward. */
export const FORWARD_TOLERANCE = 1e-5;

/** A gates function of any kind, options bound. */
export type GatesFn = (
  weights: FusedWeights,
  x: tf.Tensor2D,
  state: State,
) => Record<string, tf.Tensor>;

/** A cell object for a spec, through the kind's own factory. */
export function cellOf(spec: CellSpec): RecurrentCell {
  const sizes = { inputSize: spec.inputSize, hiddenSize: spec.hiddenSize };
  if (spec.kind === "rnn") return rnnCell({ ...sizes, nonlinearity: spec.nonlinearity });
  if (spec.kind === "gru") return gruCell({ ...sizes, resetAfter: spec.resetAfter });
  return lstmCell(sizes);
}

/** The kind's fused -> named converter. */
export function toNamed(variant: Variant, fused: FusedWeights): NamedWeights {
  if (variant.kind === "rnn") return rnnWeightsToNamed(fused);
  if (variant.kind === "gru") return gruWeightsToNamed(fused);
  return lstmWeightsToNamed(fused);
}

function randomState(variant: Variant, B: number, H: number, seed: number): RefState {
  const r = rng(seed);
  const h = randomMat(B, H, r);
  return variant.kind === "lstm" ? { h, c: randomMat(B, H, r, 2) } : { h };
}

/** Registers: every gate of one step matches the reference, for every shape. */
export function registerGateTests(variant: Variant, gates: GatesFn, names: string[]): void {
  Deno.test(`${variant.label}: every gate of one step matches the float64 reference`, async () => {
    for (const [index, [, B, D, H]] of SHAPES.entries()) {
      const named = randomNamed(variant.kind, D, H, rng(100 + index), variant.options);
      const x = randomMat(B, D, rng(200 + index), 2);
      const state = randomState(variant, B, H, 300 + index);
      const expected = refGates(variant.kind, named, x, state, variant.options);
      deepStrictEqual(Object.keys(expected).sort(), [...names].sort());
      const fused = fusedFromReference(variant, named, D, H);
      const [xT, stateT] = [tensor2d(x), stateTensors(state)];
      const actual = tf.tidy(() => gates(fused, xT, stateT) as tf.NamedTensorMap);
      deepStrictEqual(Object.keys(actual).sort(), [...names].sort());
      for (const name of names) {
        deepStrictEqual(actual[name].shape, [B, H], `${name} shape`);
        assertClose(
          await values(actual[name]),
          expected[name],
          FORWARD_TOLERANCE,
          `${name} B${B} D${D} H${H}`,
        );
      }
      tf.dispose([...Object.values(fused), xT, ...Object.values(stateT), ...Object.values(actual)]);
    }
  });
}

/** Registers: `forward` over whole sequences (from a given state and from zeros) matches the reference. */
export function registerSequenceTests(variant: Variant): void {
  Deno.test(`${variant.label}: forward() over a sequence matches the reference, outputs and state`, async () => {
    for (const [index, [T, B, D, H]] of SHAPES.entries()) {
      const named = randomNamed(variant.kind, D, H, rng(400 + index), variant.options);
      const xs = Array.from({ length: T }, (_, t) => randomMat(B, D, rng(500 + 10 * index + t), 2));
      const cell = cellOf(specOf(variant, D, H));
      const tensors = namedTensors(named);
      cell.setWeights(tensors);
      const xsT = tensor3d(xs);
      for (const start of [randomState(variant, B, H, 600 + index), undefined]) {
        const zero: RefState = { h: randomMat(B, H, rng(0), 0) };
        if (variant.kind === "lstm") zero.c = zero.h;
        const expected = refSequence(variant.kind, named, xs, start ?? zero, variant.options);
        const stateT = start ? stateTensors(start) : undefined;
        const { outputs, state } = cell.forward(xsT, stateT);
        const label = `T${T} B${B} D${D} H${H} ${start ? "given" : "zero"} state`;
        deepStrictEqual(outputs.shape, [T, B, H]);
        assertClose(await values(outputs), expected.outputs, FORWARD_TOLERANCE, `outputs ${label}`);
        assertClose(await values(state.h), expected.state.h, FORWARD_TOLERANCE, `h ${label}`);
        if (variant.kind === "lstm") {
          assertClose(await values(state.c!), expected.state.c, FORWARD_TOLERANCE, `c ${label}`);
        } else ok(state.c === undefined, "only lstm has c");
        tf.dispose([outputs, state.h, state.c ?? [], ...Object.values(stateT ?? {})]);
      }
      tf.dispose([xsT, ...Object.values(tensors)]);
      cell.dispose();
    }
  });
}

/** Relative tolerance of the float32 analytic gradient against the float64 numeric one. */
export const GRADIENT_RTOL = 1e-3;
/** Absolute floor of that tolerance, for entries near zero. */
export const GRADIENT_ATOL = 1e-4;

/**
 * Registers the gradient check: with loss = Σ outputs ⊙ A + Σ h_T ⊙ B (+ Σ c_T ⊙ C),
 * tfjs's gradient (float32, through `tf.variableGrads` and `tf.grads` on the
 * cell object) for every weight, every input and the initial state matches
 * central differences of the float64 reference, |a − n| <= 1e-4 + 1e-3 |n|.
 */
export function registerGradientCheck(variant: Variant): void {
  Deno.test(`${variant.label}: gradients of every weight, the inputs and the initial state match finite differences`, () => {
    const [T, B, D, H] = [3, 2, 3, 4];
    const named = randomNamed(variant.kind, D, H, rng(700), variant.options);
    const xs = Array.from({ length: T }, (_, t) => randomMat(B, D, rng(710 + t), 1.5));
    const start = randomState(variant, B, H, 720);
    const coef = {
      outputs: Array.from({ length: T }, (_, t) => randomMat(B, H, rng(730 + t))),
      h: randomMat(B, H, rng(740)),
      c: randomMat(B, H, rng(750)),
    };
    const refLoss = (w: Named, x: Mat[], s: RefState): number => {
      const run = refSequence(variant.kind, w, x, s, variant.options);
      let loss = 0;
      run.outputs.forEach((o, t) =>
        o.forEach((row, b) => row.forEach((v, j) => loss += v * coef.outputs[t][b][j]))
      );
      run.state.h.forEach((row, b) => row.forEach((v, j) => loss += v * coef.h[b][j]));
      run.state.c?.forEach((row, b) => row.forEach((v, j) => loss += v * coef.c[b][j]));
      return loss;
    };

    // Analytic, float32: weights through variableGrads, inputs and state through grads.
    const cell = cellOf(specOf(variant, D, H));
    const tensors = namedTensors(named);
    cell.setWeights(tensors);
    const [coefOut, coefH, coefC] = [tensor3d(coef.outputs), tensor2d(coef.h), tensor2d(coef.c)];
    const tfLoss = (xsT: tf.Tensor3D, s: State): tf.Scalar => {
      const { outputs, state } = cell.forward(xsT, s);
      let loss = tf.add(tf.sum(tf.mul(outputs, coefOut)), tf.sum(tf.mul(state.h, coefH)));
      if (state.c) loss = tf.add(loss, tf.sum(tf.mul(state.c, coefC)));
      return loss as tf.Scalar;
    };
    const xsT = tensor3d(xs);
    const s0 = stateTensors(start);
    const { grads: byVariable } = tf.variableGrads(() => tfLoss(xsT, s0));
    const w = cell.weights;
    const fusedGrad: FusedWeights = {
      Wx: byVariable[w.Wx.name] as tf.Tensor2D,
      Wh: byVariable[w.Wh.name] as tf.Tensor2D,
      b: byVariable[w.b.name] as tf.Tensor1D,
    };
    if (w.bhh) fusedGrad.bhh = byVariable[w.bhh.name] as tf.Tensor1D;
    const namedGrad = toNamed(variant, fusedGrad);
    const lstm = variant.kind === "lstm";
    const inputGrads = tf.grads((...args: tf.Tensor[]) => {
      const [x, h, c] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D];
      return tfLoss(x, lstm ? { h, c } : { h });
    })(lstm ? [xsT, s0.h, s0.c!] : [xsT, s0.h]);

    // Numeric, float64: central differences of the reference.
    const eps = 1e-6;
    let checked = 0, worst = 0;
    const perturbAll = (
      label: string,
      analytic: ArrayLike<number>,
      target: number[] | Mat | Mat[],
      loss: () => number,
    ) => {
      const cells = leaves(target);
      deepStrictEqual(cells.length, analytic.length, `${label}: gradient size`);
      cells.forEach(([arr, k], n) => {
        const numeric = centralDifference(loss, arr, k, eps);
        const diff = Math.abs(analytic[n] - numeric);
        worst = Math.max(worst, diff / (GRADIENT_ATOL + GRADIENT_RTOL * Math.abs(numeric)));
        ok(
          diff <= GRADIENT_ATOL + GRADIENT_RTOL * Math.abs(numeric),
          `${label}[${n}]: analytic ${analytic[n]}, numeric ${numeric}`,
        );
        checked++;
      });
    };
    for (const name of Object.keys(named)) {
      perturbAll(name, namedGrad[name].dataSync(), named[name], () => refLoss(named, xs, start));
    }
    perturbAll("xs", inputGrads[0].dataSync(), xs, () => refLoss(named, xs, start));
    perturbAll("h0", inputGrads[1].dataSync(), start.h, () => refLoss(named, xs, start));
    if (start.c) {
      perturbAll("c0", inputGrads[2].dataSync(), start.c, () => refLoss(named, xs, start));
    }
    ok(checked > 0);
    ok(worst <= 1, `worst ratio ${worst}`);

    tf.dispose([...Object.values(byVariable), ...Object.values(namedGrad), ...inputGrads]);
    tf.dispose([xsT, coefOut, coefH, coefC, ...Object.values(s0), ...Object.values(tensors)]);
    cell.dispose();
  });
}

/** Every number of a nested array as [its innermost array, index], row-major. */
function leaves(a: number[] | Mat | Mat[]): [number[], number][] {
  if (a.length > 0 && Array.isArray(a[0])) {
    return (a as (Mat | number[])[]).flatMap((x) => leaves(x as number[] | Mat));
  }
  return (a as number[]).map((_, k) => [a as number[], k] as [number[], number]);
}
