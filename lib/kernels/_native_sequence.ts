/**
 * The fused sequence on the native backend: the whole forward pass (all T
 * steps) as one C call, and the whole backward pass as another, on the
 * tensors' own memory (see `lib/native/`). Same inputs, value and gradients
 * as the tf-ops kernels of `_lstm.ts`, `_gru.ts` and `_rnn.ts`.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { type CellSpec, GATE_COUNT } from "../cells/types.ts";
import { checkLength, nativeKernels, scratchArray, valuesOf } from "../native/backend.ts";
import type { Dims } from "./_common.ts";

type Forward = (inputs: tf.Tensor[], dims: Dims, save: (t: tf.Tensor[]) => void) => tf.Tensor;
type Backward = (dValue: tf.Tensor, saved: tf.Tensor[], dims: Dims) => tf.Tensor[];

/**
 * The C kernel's cell code (kernels.c: rnn tanh, rnn relu, gru before, gru after, lstm).
 *
 * @example An lstm is 4
 * ```ts
 * import { ok } from "node:assert";
 * ok(cellKindCode({ kind: "lstm", inputSize: 2, hiddenSize: 3 }) === 4);
 * ```
 */
export function cellKindCode(spec: CellSpec): number {
  if (spec.kind === "lstm") return 4;
  if (spec.kind === "gru") return spec.resetAfter ? 3 : 2;
  return (spec.nonlinearity ?? "tanh") === "relu" ? 1 : 0;
}

const WHO = "native sequence";

/** Values of the op's inputs, checked against the sizes (a wrong shape throws, never writes). */
function read(inputs: tf.Tensor[], dims: Dims, spec: CellSpec) {
  const backend = tf.backend();
  const { T, B, D, H } = dims;
  const G = GATE_COUNT[spec.kind];
  const v = (t: tf.Tensor) => valuesOf(backend, t);
  const X = v(inputs[0]);
  const ids = dims.rows ? v(inputs[inputs.length - 1]) : null;
  const V = dims.rows ? inputs[0].shape[0] as number : 0;
  checkLength(WHO, dims.rows ? "table" : "xs", X, dims.rows ? V * D : T * B * D);
  if (ids) checkLength(WHO, "ids", ids, T * B);
  const [Wx, Wh, b, h0] = [1, 2, 3, 4].map((i) => v(inputs[i]));
  checkLength(WHO, "Wx", Wx, D * G * H);
  checkLength(WHO, "Wh", Wh, H * G * H);
  checkLength(WHO, "b", b, G * H);
  checkLength(WHO, "h0", h0, B * H);
  const c0 = spec.kind === "lstm" ? v(inputs[5]) : null;
  if (c0) checkLength(WHO, "c0", c0, B * H);
  const bhh = spec.kind === "gru" && spec.resetAfter ? v(inputs[5]) : null;
  if (bhh) checkLength(WHO, "bhh", bhh, H);
  return { X, ids, V, Wx, Wh, b, h0, c0, bhh, G };
}

/**
 * One float for a buffer argument a C kernel does not read (a GRU's `c0`, an
 * LSTM's `bhh`).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(UNUSED.length, 1);
 * ```
 */
export const UNUSED = new Float32Array(1);

/**
 * The arguments `rnn_seq_forward` and `rnn_seq_backward` both take, in their C
 * order: the sizes and inputs up to `Wh` (the forward then takes `b`), and the
 * initial state with the cell-states flag.
 */
function sharedArgs(kind: number, dims: Dims, r: ReturnType<typeof read>, cellStates: boolean) {
  const { T, B, D, H } = dims;
  return {
    inputs: [kind, T, B, D, H, r.V, r.X, r.ids, r.Wx, r.Wh] as const,
    state: [r.bhh ?? UNUSED, r.h0, r.c0 ?? UNUSED, cellStates ? 1 : 0] as const,
  };
}

/**
 * The native forward and backward of a cell kind, or null when the native
 * backend is not the active one.
 *
 * @param cellStates LSTM: the value holds every step's cell state.
 */
export function nativeSequenceKernels(
  spec: CellSpec,
  cellStates: boolean,
): { forward: Forward; backward: Backward } | null {
  const lib = nativeKernels();
  if (!lib) return null;
  const kind = cellKindCode(spec);
  const lstm = spec.kind === "lstm";
  const forward: Forward = (inputs, dims, save) => {
    const { T, B, H } = dims;
    const r = read(inputs, dims, spec);
    const blocks = lstm ? (cellStates ? 2 * T : T + 1) : T;
    const value = new Float32Array(blocks * B * H);
    // Read by the backward pass only, and written whole by the forward: a recycled array.
    const work = scratchArray(Number(lib.rnn_work_size(kind, T, B, H)));
    const args = sharedArgs(kind, dims, r, cellStates);
    const rc = lib.rnn_seq_forward(...args.inputs, r.b, ...args.state, value, work);
    if (rc !== 0) throw new Error(`${WHO}: the forward pass ran out of memory`);
    const out = tf.tensor3d(value, [blocks, B, H]);
    save([...inputs, out, tf.tensor1d(work)]);
    return out;
  };
  const backward: Backward = (dValue, saved, dims) => {
    const { T, B, D, H } = dims;
    const inputs = saved.slice(0, saved.length - 2);
    const r = read(inputs, dims, spec);
    const backend = tf.backend();
    const value = valuesOf(backend, saved[saved.length - 2]);
    const work = valuesOf(backend, saved[saved.length - 1]);
    const dv = valuesOf(backend, dValue);
    checkLength(WHO, "dValue", dv, value.length);
    checkLength(WHO, "work", work, Number(lib.rnn_work_size(kind, T, B, H)));
    const dX = new Float32Array(dims.rows ? r.V * D : T * B * D);
    const dWx = new Float32Array(D * r.G * H), dWh = new Float32Array(H * r.G * H);
    const db = new Float32Array(r.G * H), dbhh = new Float32Array(H);
    const dh0 = new Float32Array(B * H), dc0 = new Float32Array(B * H);
    const args = sharedArgs(kind, dims, r, cellStates);
    const rc = lib.rnn_seq_backward(
      ...args.inputs,
      ...args.state,
      value,
      work,
      dv,
      dX,
      dWx,
      dWh,
      db,
      dbhh,
      dh0,
      dc0,
      0, // the weight gradients written, not added to
    );
    if (rc !== 0) throw new Error(`${WHO}: the backward pass ran out of memory`);
    const grads = [
      dims.rows ? tf.tensor2d(dX, [r.V, D]) : tf.tensor3d(dX, [T, B, D]),
      tf.tensor2d(dWx, [D, r.G * H]),
      tf.tensor2d(dWh, [H, r.G * H]),
      tf.tensor1d(db),
      tf.tensor2d(dh0, [B, H]),
    ];
    if (lstm) grads.push(tf.tensor2d(dc0, [B, H]));
    if (r.bhh) grads.push(tf.tensor1d(dbhh));
    return grads;
  };
  return { forward, backward };
}
