/**
 * A recurrent sequence as one differentiable op on the WebGPU backend, with
 * the per-step work in hand-written WGSL: one dispatch per step forward and
 * one per step backward (two each way for a GRU with the reset gate before
 * the recurrent matmul), instead of the ~10-20 tfjs dispatches per step of
 * `fusedSequence` (`../fused_sequence.ts`), whose arithmetic and results it
 * reproduces. The input projection and the input gradient stay single tfjs
 * matmuls over all `T*B` rows; the weight gradients are one WGSL dispatch
 * (`_grads.ts`; two for the GRU reset-before, tfjs matmuls when `H % 4 != 0`
 * for rnn and that GRU).
 *
 * Done: LSTM, GRU (reset before and after) and RNN (tanh, relu).
 * {@linkcode webgpuSequence} returns null on other backends, for dtypes
 * other than float32 and for kinds it has no programs for; callers fall back
 * to `fusedSequence` or the plain path.
 *
 * @module
 */
import { tf } from "../../tf.ts";
import type { GradSaveFunc, Tensor, Tensor2D, Tensor3D } from "../../ops/tensors.ts";
import type {
  CellSpec,
  FusedWeights,
  Nonlinearity,
  SequenceResult,
  State,
} from "../../cells/definition.ts";
import { allFloat32, type Dims, inputGrad, kernelDims, weightGrads } from "../_common.ts";
import type { FusedSequenceOptions } from "../fused_sequence.ts";
import { weightGradsWgsl } from "./_grads.ts";
import { webgpuBackend, type WebGpuBackendLike } from "./_program.ts";
import { gruBackwardSteps, gruForwardSteps, gruViews } from "./_gru.ts";
import { lstmBackwardSteps, lstmForwardSteps, lstmViews } from "./_lstm.ts";
import { rnnBackwardSteps, rnnForwardSteps, rnnViews } from "./_rnn.ts";

/** Sizes, or null when a tensor is not float32 (left to `fusedSequence`'s error). */
function validate(
  spec: CellSpec,
  weights: FusedWeights,
  xs: Tensor3D,
  state: State,
): Dims | null {
  if (!allFloat32(weights, xs, state)) return null;
  return kernelDims("webgpuSequence", spec, weights, xs, state);
}

/** Saved by every WGSL sequence op: the inputs `X` `[T*B, D]`, both kernels, the steps' buffer. */
interface Saved {
  X: Tensor;
  Wx: Tensor;
  Wh: Tensor;
  seq: Tensor;
}

/**
 * The op every kind's WGSL sequence is: inputs `[xs, Wx, Wh, b, h0, extra?]`
 * (extra: LSTM's `c0`, a reset-after GRU's `bhh`), one tfjs matmul for the
 * input projection `X Wx + b`, the kind's step programs for the rest.
 *
 * @param forward the step programs over `XW` `[T*B, G*H]`: the steps' buffer and the op's value.
 * @param backward the gradients of every input of the op, in input order.
 */
function wgslOp(
  dims: Dims,
  forward: (XW: Tensor, Wh: Tensor, h0: Tensor, extra?: Tensor) => { seq: Tensor; value: Tensor },
  backward: (dy: Tensor3D, saved: Saved) => Tensor[],
): (...inputs: Tensor[]) => Tensor {
  const { T, B, D } = dims;
  return tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const save = args.pop() as GradSaveFunc;
    const [xsIn, Wx, Wh, b, h0, extra] = args as Tensor[];
    const X = tf.reshape(xsIn, [T * B, D]);
    const XW = tf.add(tf.matMul(X, Wx), b); // [T*B, G*H]
    const { seq, value } = forward(XW, Wh, h0, extra);
    save([X, Wx, Wh, seq]);
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) =>
        tf.tidy(() => {
          const [Xs, Wxs, Whs, seqs] = saved;
          return backward(dy as Tensor3D, { X: Xs, Wx: Wxs, Wh: Whs, seq: seqs });
        }),
    };
  }) as (...inputs: Tensor[]) => Tensor;
}

/** The last step of outputs `[T, B, H]`: the final `h` `[B, H]` of rnn and gru. */
function lastStep(outputs: Tensor3D, dims: Dims): Tensor2D {
  const { T, B, H } = dims;
  return tf.reshape(tf.slice(outputs, [T - 1, 0, 0], [1, B, H]), [B, H]);
}

function lstmSequence(
  backend: WebGpuBackendLike,
  weights: FusedWeights,
  xs: Tensor3D,
  state: State,
  dims: Dims,
  cellStates: boolean,
): SequenceResult {
  const { T, B, H } = dims;
  return tf.tidy(() => {
    const c0 = state.c ?? tf.zeros([B, H]);
    const op = wgslOp(
      dims,
      (XW, Wh, h0, c0In) => {
        const seq = lstmForwardSteps(backend, XW, Wh, h0, c0In!, dims);
        return { seq, value: lstmViews(seq, dims, cellStates).value };
      },
      (dy, { X, Wx, Wh, seq }) => {
        const { dZ, dh0, dc0 } = lstmBackwardSteps(backend, dy, seq, Wh, dims, cellStates);
        const { Hprev } = lstmViews(seq, dims);
        const { dWh, dWx, db } = weightGradsWgsl(backend, dZ, Hprev, X); // 4H columns
        return [inputGrad(dZ, Wx, dims), dWx, dWh, db, dh0, dc0];
      },
    );
    const value = op(xs, weights.Wx, weights.Wh, weights.b, state.h, c0);
    const v = tf.reshape(value, [(cellStates ? 2 * T : T + 1) * B, H]);
    const outputs = tf.reshape(tf.slice(v, [0, 0], [T * B, H]), [T, B, H]) as Tensor3D;
    const h = tf.slice(v, [(T - 1) * B, 0], [B, H]) as Tensor2D;
    if (!cellStates) {
      return { outputs, state: { h, c: tf.slice(v, [T * B, 0], [B, H]) as Tensor2D } };
    }
    return {
      outputs,
      state: { h, c: tf.slice(v, [(2 * T - 1) * B, 0], [B, H]) as Tensor2D },
      cells: tf.reshape(tf.slice(v, [T * B, 0], [T * B, H]), [T, B, H]) as Tensor3D,
    };
  });
}

/**
 * How a sequence of width `H` takes its weight gradients: with the WGSL
 * program where it applies (it loads rows as vec4s, so `H`, and with it every
 * gate block, must be a multiple of 4), else with tf ops.
 */
function weightGradsOf(backend: WebGpuBackendLike, H: number): typeof weightGrads {
  return H % 4 === 0 ? (dZ, Hsrc, X) => weightGradsWgsl(backend, dZ, Hsrc, X) : weightGrads;
}

function rnnSequence(
  backend: WebGpuBackendLike,
  phi: Nonlinearity,
  weights: FusedWeights,
  xs: Tensor3D,
  state: State,
  dims: Dims,
): SequenceResult {
  return tf.tidy(() => {
    const op = wgslOp(
      dims,
      (XW, Wh, h0) => {
        const seq = rnnForwardSteps(backend, phi, XW, Wh, h0, dims);
        return { seq, value: rnnViews(seq, dims).value };
      },
      (dy, { X, Wx, Wh, seq }) => {
        const { dZ, dh0 } = rnnBackwardSteps(backend, phi, dy, seq, Wh, dims);
        const { Hprev } = rnnViews(seq, dims);
        const { dWh, dWx, db } = weightGradsOf(backend, dims.H)(dZ, Hprev, X);
        return [inputGrad(dZ, Wx, dims), dWx, dWh, db, dh0];
      },
    );
    const outputs = op(xs, weights.Wx, weights.Wh, weights.b, state.h) as Tensor3D;
    return { outputs, state: { h: lastStep(outputs, dims) } };
  });
}

/**
 * Input and weight gradients of a GRU from {@linkcode gruBackwardSteps}'s
 * `dZ` (recurrent products: z, r, and reset after m) and `dZh` (candidate),
 * ordered as the op's inputs `[xs, Wx, Wh, b, h0, bhh]` less `h0`.
 */
function gruGrads(
  backend: WebGpuBackendLike,
  resetAfter: boolean,
  dZ: Tensor,
  dZh: Tensor,
  seq: Tensor,
  X: Tensor,
  Wx: Tensor,
  dims: Dims,
): { dX: Tensor; dWx: Tensor; dWh: Tensor; db: Tensor; dbhh?: Tensor } {
  const { T, B, D, H } = dims;
  const { Hprev, RH } = gruViews(seq, dims);
  const grads = weightGradsOf(backend, H);
  const cols = (m: Tensor, from: number, n: number) =>
    tf.slice(m, [0, from], [m.shape[0] as number, n]);
  // Reset before: dZh against R ⊙ H; reset after: the candidate's input part, no recurrent source.
  const rec = grads(dZ, Hprev, X); // [H, W], [D, W], [W]
  const cand = grads(dZh, resetAfter ? tf.zeros([T * B, 0]) : RH, X); // [H or 0, H], [D, H], [H]
  // Reset after, the m block has no input part: dX = dZ [Wx_zr, 0]^T + dZh Wx_h^T.
  const WxRec = resetAfter
    ? tf.concat([cols(Wx, 0, 2 * H), tf.zeros([D, H])], 1)
    : cols(Wx, 0, 2 * H);
  return {
    dX: tf.add(inputGrad(dZ, WxRec, dims), inputGrad(dZh, cols(Wx, 2 * H, H), dims)),
    dWx: tf.concat([cols(rec.dWx, 0, 2 * H), cand.dWx], 1),
    dWh: resetAfter ? rec.dWh : tf.concat([rec.dWh, cand.dWh], 1),
    db: tf.concat([tf.slice(rec.db, [0], [2 * H]), cand.db]),
    dbhh: resetAfter ? tf.slice(rec.db, [2 * H], [H]) : undefined,
  };
}

function gruSequence(
  backend: WebGpuBackendLike,
  resetAfter: boolean,
  weights: FusedWeights,
  xs: Tensor3D,
  state: State,
  dims: Dims,
): SequenceResult {
  return tf.tidy(() => {
    const op = wgslOp(
      dims,
      (XW, Wh, h0, bhh) => {
        const seq = gruForwardSteps(backend, resetAfter, XW, Wh, bhh, h0, dims);
        return { seq, value: gruViews(seq, dims).value };
      },
      (dy, { X, Wx, Wh, seq }) => {
        const { dZ, dZh, dh0 } = gruBackwardSteps(backend, resetAfter, dy, seq, Wh, dims);
        const g = gruGrads(backend, resetAfter, dZ, dZh, seq, X, Wx, dims);
        const out = [g.dX, g.dWx, g.dWh, g.db, dh0];
        return g.dbhh ? [...out, g.dbhh] : out;
      },
    );
    const inputs = [xs, weights.Wx, weights.Wh, weights.b, state.h];
    if (resetAfter) inputs.push(weights.bhh!);
    const outputs = op(...inputs) as Tensor3D;
    return { outputs, state: { h: lastStep(outputs, dims) } };
  });
}

/**
 * Runs a cell over a whole sequence on the WebGPU backend with WGSL step
 * programs, or returns null when it does not apply (another backend, a cell
 * dtype other than float32): then use `fusedSequence`.
 *
 * Same contract as `fusedSequence`: differentiable inside `tf.grad` /
 * `tf.variableGrads` with gradients for `xs`, `Wx`, `Wh`, `b`, `h0`, (LSTM)
 * `c0` and (GRU, reset after) `bhh`; the loss may use the outputs, the final
 * state and (LSTM with `cellStates`) the cell states.
 *
 * @param spec the cell kind and variant.
 * @param weights fused weights `Wx` `[D, G*H]`, `Wh` `[H, G*H]`, `b` `[G*H]`.
 * @param xs inputs `[T, B, D]`.
 * @param state the initial state `{ h }` (`{ h, c }` for LSTM; a missing `c` is zeros).
 * @param options `cellStates: true` adds `cells` `[T, B, H]` (`c_0 .. c_{T-1}`) for an
 *   LSTM (the backward programs then add each step's `dC_t`); ignored for rnn and gru.
 * @returns outputs `[T, B, H]`, the final state and, when asked for, `cells` (new
 *   tensors, owned by the caller), or null.
 * @throws {Error} when a shape does not fit the spec.
 *
 * @example Falls back (null) off webgpu
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../../tf.ts";
 * const spec = { kind: "lstm" as const, inputSize: 3, hiddenSize: 2 };
 * const weights = {
 *   Wx: tf.zeros([3, 8]) as tf.Tensor2D,
 *   Wh: tf.zeros([2, 8]) as tf.Tensor2D,
 *   b: tf.zeros([8]) as tf.Tensor1D,
 * };
 * const xs = tf.zeros([5, 4, 3]) as tf.Tensor3D;
 * const h = tf.zeros([4, 2]) as tf.Tensor2D;
 * const r = webgpuSequence(spec, weights, xs, { h });
 * ok(tf.getBackend() === "webgpu" ? r !== null : r === null);
 * const rc = webgpuSequence(spec, weights, xs, { h }, { cellStates: true });
 * ok(rc === null || rc.cells!.shape.join() === "5,4,2"); // [T, B, H]
 * ```
 */
export function webgpuSequence(
  spec: CellSpec,
  weights: FusedWeights,
  xs: Tensor3D,
  state: State,
  options: FusedSequenceOptions = {},
): SequenceResult | null {
  const backend = webgpuBackend();
  const programs = spec.definition === undefined ? WGSL_SEQUENCES[spec.kind] : undefined;
  if (backend === null || programs === undefined) return null;
  const dims = validate(spec, weights, xs, state);
  if (dims === null) return null;
  return programs(backend, spec, weights, xs, state, dims, options.cellStates === true);
}

/** The WGSL sequence of each kind that has step programs; the others get null. */
const WGSL_SEQUENCES: Readonly<
  Partial<
    Record<
      string,
      (
        backend: WebGpuBackendLike,
        spec: CellSpec,
        weights: FusedWeights,
        xs: Tensor3D,
        state: State,
        dims: Dims,
        cellStates: boolean,
      ) => SequenceResult
    >
  >
> = {
  gru: (backend, spec, w, xs, state, dims) =>
    gruSequence(backend, spec.resetAfter ?? false, w, xs, state, dims),
  rnn: (backend, spec, w, xs, state, dims) =>
    rnnSequence(backend, spec.nonlinearity ?? "tanh", w, xs, state, dims),
  lstm: (backend, _spec, w, xs, state, dims, cellStates) =>
    lstmSequence(backend, w, xs, state, dims, cellStates),
};
