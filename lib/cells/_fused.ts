/**
 * Private helpers shared by the cell files: spec and shape checks, the
 * fused <-> d2l-names conversion, and the input projection `x W_x + b`.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { matMul } from "./_matmul.ts";
import { UsageError } from "../errors.ts";
import {
  CELL_KINDS,
  type CellSpec,
  type FusedWeights,
  GATE_BLOCKS,
  GATE_COUNT,
  type NamedWeights,
  type State,
} from "./types.ts";

/**
 * `tf.tidy` for records the tfjs typings do not take (interfaces such as
 * `State`): frees every tensor `fn` makes except those in what it returns.
 */
export function tidy<T>(fn: () => T): T {
  return tf.tidy(fn as () => tf.TensorContainer) as T;
}

/** `[2, 3]`: how every message writes a shape. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/** Throws a UsageError naming `what` when `tensor` is not of shape `expected`. */
export function checkShape(
  action: string,
  what: string,
  tensor: tf.Tensor | undefined,
  expected: readonly number[],
): void {
  if (tensor === undefined) {
    throw new UsageError(`${action}: ${what} is missing, expected shape ${formatShape(expected)}`);
  }
  if (!(tensor instanceof tf.Tensor)) {
    throw new UsageError(
      `${action}: ${what} is not a tensor, expected shape ${formatShape(expected)}`,
    );
  }
  if (!sameShape(tensor.shape, expected)) {
    throw new UsageError(
      `${action}: ${what} has shape ${formatShape(tensor.shape)}, expected ${
        formatShape(expected)
      }`,
    );
  }
}

function isPositiveInteger(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n > 0;
}

/**
 * Checks a spec's kind, sizes and flags; returns a copy with the kind's own
 * flag filled in (`nonlinearity` for rnn, `resetAfter` for gru). A flag given
 * to a kind that has no use for it is an error, not a silent ignore.
 */
export function checkSpec(spec: CellSpec): CellSpec {
  if (!(CELL_KINDS as readonly string[]).includes(spec.kind)) {
    throw new UsageError(
      `Cannot build a cell of kind "${spec.kind}": expected one of ${CELL_KINDS.join(", ")}`,
    );
  }
  for (const key of ["inputSize", "hiddenSize"] as const) {
    if (!isPositiveInteger(spec[key])) {
      throw new UsageError(
        `Cannot build a cell of kind "${spec.kind}": ${key} is ${
          spec[key]
        }, expected a positive integer`,
      );
    }
  }
  const { kind, inputSize, hiddenSize } = spec;
  if (kind !== "rnn" && spec.nonlinearity !== undefined) {
    throw new UsageError(
      `Cannot build a cell of kind "${kind}": nonlinearity is for rnn cells only`,
    );
  }
  if (kind !== "gru" && spec.resetAfter !== undefined) {
    throw new UsageError(`Cannot build a cell of kind "${kind}": resetAfter is for gru cells only`);
  }
  if (kind === "rnn") {
    const nonlinearity = spec.nonlinearity ?? "tanh";
    if (nonlinearity !== "tanh" && nonlinearity !== "relu") {
      throw new UsageError(
        `Cannot build a cell of kind "rnn": nonlinearity is "${nonlinearity}", expected tanh or relu`,
      );
    }
    return { kind, inputSize, hiddenSize, nonlinearity };
  }
  if (kind === "gru") return { kind, inputSize, hiddenSize, resetAfter: spec.resetAfter ?? false };
  return { kind, inputSize, hiddenSize };
}

/** Whether a cell of this spec has the extra recurrent candidate bias `bhh`. */
export function hasBhh(spec: CellSpec): boolean {
  return spec.kind === "gru" && spec.resetAfter === true;
}

/** Checks the fused weights' shapes against the spec (`bhh` exactly when a reset-after GRU). */
export function checkFused(action: string, spec: CellSpec, weights: FusedWeights): void {
  const { inputSize: D, hiddenSize: H } = spec;
  const GH = GATE_COUNT[spec.kind] * H;
  checkShape(action, "Wx", weights.Wx, [D, GH]);
  checkShape(action, "Wh", weights.Wh, [H, GH]);
  checkShape(action, "b", weights.b, [GH]);
  if (hasBhh(spec)) checkShape(action, "bhh", weights.bhh, [H]);
  else if (weights.bhh !== undefined) {
    throw new UsageError(`${action}: bhh is given, but only a resetAfter gru cell has it`);
  }
}

/** Checks a state against the spec and batch size: `h` `[B, H]`, plus `c` for lstm. */
export function checkState(action: string, spec: CellSpec, state: State, batch: number): void {
  const expected = [batch, spec.hiddenSize];
  checkShape(action, "state.h", state.h, expected);
  if (spec.kind === "lstm") checkShape(action, "state.c", state.c, expected);
  else if (state.c !== undefined) {
    throw new UsageError(`${action}: state.c is given, but only an lstm cell has it`);
  }
}

/** A zero state for `batch` rows: new tensors, the caller disposes them. */
export function zeroState(spec: CellSpec, batch: number): State {
  const h = tf.zeros([batch, spec.hiddenSize]) as tf.Tensor2D;
  if (spec.kind !== "lstm") return { h };
  return { h, c: tf.zeros([batch, spec.hiddenSize]) as tf.Tensor2D };
}

/** The input half of every gate at once: `x W_x + b`, `[B, D]` to `[B, G*H]`. */
export function inputProjection(weights: FusedWeights, x: tf.Tensor2D): tf.Tensor2D {
  return tf.add(matMul(x, weights.Wx), weights.b);
}

/** The d2l names of a spec's weights, in block order: `W_x{g}`, `W_h{g}`, `b_{g}`, then `b_hh`. */
export function weightNames(spec: CellSpec): string[] {
  const names = GATE_BLOCKS[spec.kind].flatMap((g) => [`W_x${g}`, `W_h${g}`, `b_${g}`]);
  return hasBhh(spec) ? [...names, "b_hh"] : names;
}

/**
 * Splits fused weights into the d2l names. Shapes `[D, H]`, `[H, H]`, `[H]`.
 * The returned tensors are new; the caller disposes them.
 */
export function fusedToNamed(spec: CellSpec, weights: FusedWeights): NamedWeights {
  checkFused(`Cannot read ${spec.kind} weights`, spec, weights);
  const blocks = GATE_BLOCKS[spec.kind];
  const xs = tf.split(weights.Wx, blocks.length, 1);
  const hs = tf.split(weights.Wh, blocks.length, 1);
  const bs = tf.split(weights.b, blocks.length, 0);
  const named: NamedWeights = {};
  blocks.forEach((g, k) => {
    named[`W_x${g}`] = xs[k];
    named[`W_h${g}`] = hs[k];
    named[`b_${g}`] = bs[k];
  });
  if (weights.bhh) named.b_hh = weights.bhh.clone();
  return named;
}

/**
 * Joins weights under the d2l names into fused storage, after checking that
 * the names are exactly the spec's and every shape fits. The returned tensors
 * are new; the caller disposes them.
 */
export function namedToFused(
  spec: CellSpec,
  named: NamedWeights,
  action = `Cannot set ${spec.kind} weights`,
): FusedWeights {
  const expected = weightNames(spec);
  const extra = Object.keys(named).filter((name) => !expected.includes(name));
  if (extra.length > 0) {
    throw new UsageError(
      `${action}: unexpected name "${extra[0]}", expected exactly ${expected.join(", ")}`,
    );
  }
  const { inputSize: D, hiddenSize: H } = spec;
  for (const g of GATE_BLOCKS[spec.kind]) {
    checkShape(action, `W_x${g}`, named[`W_x${g}`], [D, H]);
    checkShape(action, `W_h${g}`, named[`W_h${g}`], [H, H]);
    checkShape(action, `b_${g}`, named[`b_${g}`], [H]);
  }
  if (hasBhh(spec)) checkShape(action, "b_hh", named.b_hh, [H]);
  const column = (prefix: string) => GATE_BLOCKS[spec.kind].map((g) => named[prefix + g]);
  return tidy(() => {
    const fused: FusedWeights = {
      Wx: tf.concat(column("W_x") as tf.Tensor2D[], 1),
      Wh: tf.concat(column("W_h") as tf.Tensor2D[], 1),
      b: tf.concat(column("b_") as tf.Tensor1D[], 0),
    };
    if (hasBhh(spec)) fused.bhh = (named.b_hh as tf.Tensor1D).clone();
    return fused;
  });
}
