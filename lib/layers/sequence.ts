/**
 * Running one cell (one layer, one direction) over a whole sequence: the
 * single entry point that cell objects and stacks call, so a faster
 * implementation for a backend can be put behind it in one place.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import type { CellSpec, FusedWeights, SequenceResult, State } from "../cells/types.ts";
import { checkFused, checkState, formatShape, inputProjection, tidy } from "../cells/_fused.ts";
import { recurrentStep } from "../cells/step.ts";
import { fusedSequence } from "../kernels/fused_sequence.ts";
import { webgpuSequence } from "../kernels/webgpu/sequence.ts";

let fusedEnabled = true;

/**
 * Chooses how {@linkcode runSequence} runs: the fused path (one custom
 * gradient over the whole sequence, lib/kernels/, with WGSL step kernels on
 * webgpu; the default) or the plain
 * path (one tfjs op per gate, autograd taping each). Both compute the same
 * equations; the plain one is the readable reference and the fallback.
 *
 * @returns the previous setting.
 *
 * @example
 * ```ts
 * const previous = useFusedSequences(false);
 * useFusedSequences(previous);
 * ```
 */
export function useFusedSequences(enabled: boolean): boolean {
  const previous = fusedEnabled;
  fusedEnabled = enabled;
  return previous;
}

/**
 * Checks `xs` `[T, B, D]`, the state and the weights against the spec.
 *
 * @returns `[T, B]`.
 * @throws {UsageError} naming the argument, its shape and the expected one.
 */
export function checkSequence(
  spec: CellSpec,
  weights: FusedWeights,
  xs: tf.Tensor,
  state: State,
): [number, number] {
  const action = `Cannot run a ${spec.kind} cell`;
  if (xs.rank !== 3 || xs.shape[2] !== spec.inputSize || xs.shape[0] < 1) {
    throw new UsageError(
      `${action}: xs has shape ${formatShape(xs.shape)}, expected [T, B, ${spec.inputSize}]` +
        ` with T >= 1 (inputSize ${spec.inputSize})`,
    );
  }
  const [T, B] = xs.shape as [number, number, number];
  checkFused(action, spec, weights);
  checkState(action, spec, state, B);
  return [T, B];
}

/**
 * Runs one cell over a sequence. The input projection of every step is one
 * matmul, `[T*B, D] x [D, G*H]`; then each step adds the recurrent matmul and
 * applies the gates.
 *
 * @param spec the cell's kind, sizes and variant flags.
 * @param weights fused weights (tensors or variables; not disposed here).
 * @param xs the inputs `[T, B, D]`, step t at `xs[t]`.
 * @param state the state before step 0, each `[B, H]`.
 * @returns `outputs` `[T, B, H]` (the hidden state after each step) and the
 *   final state: new tensors the caller disposes. Differentiable.
 * @throws {UsageError} when a shape does not fit the spec.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { initialWeights } from "../cells/init.ts";
 * const spec = { kind: "lstm" as const, inputSize: 3, hiddenSize: 2 };
 * const weights = initialWeights(spec);
 * const state = { h: tf.zeros([4, 2]) as tf.Tensor2D, c: tf.zeros([4, 2]) as tf.Tensor2D };
 * const { outputs } = runSequence(spec, weights, tf.ones([5, 4, 3]), state);
 * deepStrictEqual(outputs.shape, [5, 4, 2]);
 * ```
 */
export function runSequence(
  spec: CellSpec,
  weights: FusedWeights,
  xs: tf.Tensor3D,
  state: State,
): SequenceResult {
  checkSequence(spec, weights, xs, state);
  if (!fusedEnabled) return plainSequence(spec, weights, xs, state);
  // On webgpu, WGSL kernels with one dispatch per step where they exist;
  // elsewhere (and for the variants they lack) the fused tfjs-ops path.
  return webgpuSequence(spec, weights, xs, state) ?? fusedSequence(spec, weights, xs, state);
}

/**
 * {@linkcode runSequence}'s plain path: the step functions of the cell files,
 * one after the other, differentiated by tfjs's autograd.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { initialWeights } from "../cells/init.ts";
 * const spec = { kind: "gru" as const, inputSize: 3, hiddenSize: 2 };
 * const state = { h: tf.zeros([4, 2]) as tf.Tensor2D };
 * const { outputs } = plainSequence(spec, initialWeights(spec), tf.ones([5, 4, 3]), state);
 * deepStrictEqual(outputs.shape, [5, 4, 2]);
 * ```
 */
export function plainSequence(
  spec: CellSpec,
  weights: FusedWeights,
  xs: tf.Tensor3D,
  state: State,
): SequenceResult {
  const [T, B] = checkSequence(spec, weights, xs, state);
  const D = spec.inputSize;
  return tidy(() => {
    const flat = tf.reshape(xs, [T * B, D]) as tf.Tensor2D; // [T*B, D]
    const projected = inputProjection(weights, flat); // [T*B, G*H]
    const perStep = tf.split(projected, T, 0) as tf.Tensor2D[]; // T x [B, G*H]
    const hs: tf.Tensor2D[] = [];
    let current = state;
    for (const xw of perStep) {
      current = tidy(() => recurrentStep(spec, weights, xw, current));
      hs.push(current.h);
    }
    return { outputs: tf.stack(hs) as tf.Tensor3D, state: current };
  });
}
