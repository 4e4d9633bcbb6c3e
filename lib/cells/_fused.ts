/**
 * Private helpers of the cell files, each given the kind's definition (so
 * the cell files need not import the registry that imports them): the
 * parameter list, fused <-> d2l-names conversion, and the default input
 * projection `x W_x + b`.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor1D, Tensor2D } from "../ops/tensors.ts";
import { matMul } from "../ops/matmul.ts";
import { checkShape } from "../ops/shape.ts";
import { tidy } from "../ops/tidy.ts";
import { UsageError } from "../errors.ts";
import type {
  CellDefinition,
  CellParameter,
  CellSpec,
  FusedWeights,
  NamedWeights,
} from "./definition.ts";

/**
 * The extra parameters of a spec (none when the definition declares none).
 *
 * @example A reset-after GRU has bhh
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { gruDefinition } from "./gru.ts";
 * const spec = { kind: "gru", inputSize: 2, hiddenSize: 3, resetAfter: true };
 * deepStrictEqual(parametersOf(gruDefinition, spec).map((p) => p.key), ["bhh"]);
 * ```
 */
export function parametersOf(def: CellDefinition, spec: CellSpec): readonly CellParameter[] {
  return def.parameters?.(spec) ?? [];
}

/**
 * Checks the fused weights' shapes against the spec, extra parameters exactly as declared.
 *
 * @example An extra tensor is refused
 * ```ts
 * import { throws } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { lstmDefinition } from "./lstm.ts";
 * const spec = { kind: "lstm", inputSize: 1, hiddenSize: 1 };
 * const w = { Wx: tf.zeros([1, 4]) as tf.Tensor2D, Wh: tf.zeros([1, 4]) as tf.Tensor2D, b: tf.zeros([4]) as tf.Tensor1D, bhh: tf.zeros([1]) as tf.Tensor1D };
 * throws(() => checkFusedWith(lstmDefinition, "Cannot run", spec, w), /bhh is given/);
 * ```
 */
export function checkFusedWith(
  def: CellDefinition,
  action: string,
  spec: CellSpec,
  weights: FusedWeights,
): void {
  const { inputSize: D, hiddenSize: H } = spec;
  const GH = def.gates.length * H;
  checkShape(action, "Wx", weights.Wx, [D, GH]);
  checkShape(action, "Wh", weights.Wh, [H, GH]);
  checkShape(action, "b", weights.b, [GH]);
  const extras = parametersOf(def, spec);
  for (const p of extras) checkShape(action, p.key, weights[p.key], [p.blocks * H]);
  const keys = ["Wx", "Wh", "b", ...extras.map((p) => p.key)];
  const stray = Object.keys(weights).find((k) => !keys.includes(k) && weights[k] !== undefined);
  if (stray !== undefined) {
    throw new UsageError(
      `${action}: ${stray} is given, but a ${describe(spec)} cell has only ${keys.join(", ")}`,
    );
  }
}

/** `gru (resetAfter: false)`: the kind with the flags that change its parameters. */
function describe(spec: CellSpec): string {
  return spec.resetAfter === undefined
    ? spec.kind
    : `${spec.kind} (resetAfter: ${spec.resetAfter})`;
}

/**
 * The d2l names of a spec's weights: `W_x{g}`, `W_h{g}`, `b_{g}` per block, then the extras.
 *
 * @example The rnn's names
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { rnnDefinition } from "./rnn.ts";
 * deepStrictEqual(weightNamesWith(rnnDefinition, { kind: "rnn", inputSize: 1, hiddenSize: 1 }), ["W_xh", "W_hh", "b_h"]);
 * ```
 */
export function weightNamesWith(def: CellDefinition, spec: CellSpec): string[] {
  const names = def.gates.flatMap((g) => [`W_x${g}`, `W_h${g}`, `b_${g}`]);
  return [...names, ...parametersOf(def, spec).map((p) => p.name)];
}

/**
 * The default input half of every gate: `x W_x + b`, `[N, D]` to `[N, G*H]`.
 *
 * @example x W_x + b
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const w = { Wx: tf.ones([2, 1]) as tf.Tensor2D, Wh: tf.zeros([1, 1]) as tf.Tensor2D, b: tf.ones([1]) as tf.Tensor1D };
 * deepStrictEqual(Array.from(await inputProjection(w, tf.ones([1, 2])).data()), [3]);
 * ```
 */
export function inputProjection(weights: FusedWeights, x: Tensor2D): Tensor2D {
  return tf.add(matMul(x, weights.Wx), weights.b);
}

/**
 * Splits fused weights into the d2l names. Shapes `[D, H]`, `[H, H]`, `[H]`
 * (extras `[blocks * H]`). New tensors; the caller disposes them.
 *
 * @example Split into the d2l names
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { rnnDefinition } from "./rnn.ts";
 * const w = { Wx: tf.zeros([2, 1]) as tf.Tensor2D, Wh: tf.zeros([1, 1]) as tf.Tensor2D, b: tf.zeros([1]) as tf.Tensor1D };
 * deepStrictEqual(Object.keys(fusedToNamedWith(rnnDefinition, { kind: "rnn", inputSize: 2, hiddenSize: 1 }, w)), ["W_xh", "W_hh", "b_h"]);
 * ```
 */
export function fusedToNamedWith(
  def: CellDefinition,
  spec: CellSpec,
  weights: FusedWeights,
): NamedWeights {
  checkFusedWith(def, `Cannot read ${spec.kind} weights`, spec, weights);
  const blocks = def.gates;
  const xs = tf.split(weights.Wx, blocks.length, 1);
  const hs = tf.split(weights.Wh, blocks.length, 1);
  const bs = tf.split(weights.b, blocks.length, 0);
  const named: NamedWeights = {};
  blocks.forEach((g, k) => {
    named[`W_x${g}`] = xs[k];
    named[`W_h${g}`] = hs[k];
    named[`b_${g}`] = bs[k];
  });
  for (const p of parametersOf(def, spec)) named[p.name] = weights[p.key]!.clone();
  return named;
}

/**
 * Joins weights under the d2l names into fused storage, after checking that
 * the names are exactly the spec's and every shape fits. New tensors; the
 * caller disposes them.
 *
 * @example A wrong name is refused
 * ```ts
 * import { throws } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { rnnDefinition } from "./rnn.ts";
 * const spec = { kind: "rnn", inputSize: 2, hiddenSize: 1 };
 * throws(() => namedToFusedWith(rnnDefinition, spec, { W_xq: tf.zeros([2, 1]) }), /unexpected name "W_xq"/);
 * ```
 */
export function namedToFusedWith(
  def: CellDefinition,
  spec: CellSpec,
  named: NamedWeights,
  action = `Cannot set ${spec.kind} weights`,
): FusedWeights {
  const expected = weightNamesWith(def, spec);
  const extra = Object.keys(named).filter((name) => !expected.includes(name));
  if (extra.length > 0) {
    throw new UsageError(
      `${action}: unexpected name "${extra[0]}", expected exactly ${expected.join(", ")}`,
    );
  }
  const { inputSize: D, hiddenSize: H } = spec;
  for (const g of def.gates) {
    checkShape(action, `W_x${g}`, named[`W_x${g}`], [D, H]);
    checkShape(action, `W_h${g}`, named[`W_h${g}`], [H, H]);
    checkShape(action, `b_${g}`, named[`b_${g}`], [H]);
  }
  const extras = parametersOf(def, spec);
  for (const p of extras) checkShape(action, p.name, named[p.name], [p.blocks * H]);
  const column = (prefix: string) => def.gates.map((g) => named[prefix + g]);
  return tidy(() => {
    const fused: FusedWeights = {
      Wx: tf.concat(column("W_x") as Tensor2D[], 1),
      Wh: tf.concat(column("W_h") as Tensor2D[], 1),
      b: tf.concat(column("b_") as Tensor1D[], 0),
    };
    for (const p of extras) fused[p.key] = named[p.name].clone();
    return fused;
  });
}
