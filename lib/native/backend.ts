/**
 * The `native` tfjs backend: tfjs's cpu backend (every tensor's values in a
 * JavaScript TypedArray) with the heavy kernels replaced by C calls on those
 * arrays, in place (a Deno FFI `buffer` parameter passes a typed array's
 * memory without copying).
 *
 * Replaced here: `BatchMatMul` and `_FusedMatMul` (the packed GEMM, every
 * transpose). The whole-sequence RNN/GRU/LSTM kernels and Adam are called by
 * their ops (`lib/kernels/`) through {@linkcode nativeKernels} when this
 * backend is active. Every other op is the cpu backend's own kernel.
 *
 * Loading this module registers the backend's starter with `lib/tf.ts`, so
 * `useBackend("native")` and `auto` can start it.
 *
 * @module
 */
import type { DataType, TensorInfo } from "../ops/tensors.ts";
import { registerBackendStarter, tf, type UseBackendOptions } from "../tf.ts";
import { loadNative, type NativeSymbols } from "./build.ts";
import { declareTransposingMatMul } from "../ops/matmul.ts";

/**
 * The backend's name in tfjs's registry.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(NATIVE_BACKEND, "native");
 * ```
 */
export const NATIVE_BACKEND = "native";

let symbols: NativeSymbols | null = null;
let threads = 1;

/** The part of tfjs's `MathBackendCPU` the native kernels use. */
export interface CpuBackend {
  /** The tensors' storage, by data id (tfjs's `DataId` is an opaque object). */
  data: { get(id: object): { values?: unknown } | undefined; has(id: object): boolean };
  /** A new tensor of the backend's over `values` (taken, not copied). */
  makeTensorInfo(
    shape: number[],
    dtype: DataType,
    values?: Float32Array | Int32Array | Uint8Array,
  ): TensorInfo;
  /** How many tensors share a data id's values (a clone shares them). */
  refCount(id: object): number;
  /** Frees a tensor a kernel made for its own use. */
  disposeIntermediateTensorInfo(info: TensorInfo): void;
}

/**
 * The float32 values of a tensor on a cpu-based backend, without a copy (values
 * kept in another array type, or by another backend: a copy, to read only).
 *
 * @throws {Error} for values that are not float32.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * ok(valuesOf(tf.backend(), tf.tensor1d([1, 2]))[1] === 2);
 * ```
 */
export function valuesOf(backend: unknown, t: TensorInfo): Float32Array {
  if (t.dtype !== "float32") {
    throw new Error(`native: expected float32 values, got ${t.dtype} [${t.shape}]`);
  }
  const data = (backend as CpuBackend).data;
  const values = data.has(t.dataId) ? data.get(t.dataId)?.values : undefined;
  if (values instanceof Float32Array) return values;
  // Another array type (a cpu kernel may keep a plain array): a copy, to read only.
  if (Array.isArray(values) || ArrayBuffer.isView(values)) {
    return Float32Array.from(values as ArrayLike<number>);
  }
  if (t instanceof tf.Tensor) return t.dataSync() as Float32Array;
  throw new Error(`native: no values for a float32 tensor [${t.shape}]`);
}

/**
 * The int32 values of a tensor on a cpu-based backend, without a copy where
 * they are kept as an Int32Array (else a copy, to read only).
 *
 * @throws {Error} for values that are not int32.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * ok(int32ValuesOf(tf.backend(), tf.tensor1d([4, 5], "int32"))[1] === 5);
 * ```
 */
export function int32ValuesOf(backend: unknown, t: TensorInfo): Int32Array {
  if (t.dtype !== "int32") {
    throw new Error(`native: expected int32 values, got ${t.dtype} [${t.shape}]`);
  }
  const data = (backend as CpuBackend).data;
  const values = data.has(t.dataId) ? data.get(t.dataId)?.values : undefined;
  if (values instanceof Int32Array) return values;
  if (Array.isArray(values) || ArrayBuffer.isView(values)) {
    return Int32Array.from(values as ArrayLike<number>);
  }
  if (t instanceof tf.Tensor) return t.dataSync() as Int32Array;
  throw new Error(`native: no values for an int32 tensor [${t.shape}]`);
}

/**
 * The loaded native functions, when the native backend is the active one.
 *
 * @returns the symbols, or null on every other backend.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * ok(tf.getBackend() !== "native" || nativeKernels() !== null);
 * ```
 */
export function nativeKernels(): NativeSymbols | null {
  return symbols !== null && tf.getBackend() === NATIVE_BACKEND ? symbols : null;
}

/**
 * The native kernels' thread count.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * ok(nativeThreads() >= 1);
 * ```
 */
export function nativeThreads(): number {
  return threads;
}

/**
 * Throws unless `array` holds exactly `expected` values: the shape check made
 * before every FFI call, so a wrong shape is an error, never a write out of bounds.
 *
 * @throws {Error} naming the kernel, the array and both lengths.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert";
 * checkLength("gemm", "A", new Float32Array(6), 6);
 * throws(() => checkLength("gemm", "A", new Float32Array(5), 6), /A has 5 values, expected 6/);
 * ```
 */
export function checkLength(who: string, what: string, array: Float32Array, expected: number) {
  if (array.length !== expected) {
    throw new Error(`${who}: ${what} has ${array.length} values, expected ${expected}`);
  }
}

type MatMulAttrs = {
  transposeA: boolean;
  transposeB: boolean;
};

/** op(A) op(B) for rank >= 2 operands whose batch sizes match or are 1; null: not handled. */
function matMul(
  backend: CpuBackend,
  a: TensorInfo,
  b: TensorInfo,
  attrs: MatMulAttrs,
): TensorInfo | null {
  const lib = symbols;
  if (!lib || a.dtype !== "float32" || b.dtype !== "float32") return null;
  const ra = a.shape.length, rb = b.shape.length;
  if (ra < 2 || rb < 2) return null;
  const { transposeA: ta, transposeB: tb } = attrs;
  const M = ta ? a.shape[ra - 1] : a.shape[ra - 2], K = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = tb ? b.shape[rb - 1] : b.shape[rb - 2], N = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  if (K !== Kb) throw new Error(`native matMul: inner sizes ${K} and ${Kb} differ`);
  const outer = tf.backend_util.assertAndGetBroadcastShape(
    a.shape.slice(0, -2),
    b.shape.slice(0, -2),
  );
  const count = (s: number[]) => s.reduce((x, y) => x * y, 1);
  const batch = count(outer), batchA = count(a.shape.slice(0, -2));
  const batchB = count(b.shape.slice(0, -2));
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return null;
  const A = valuesOf(backend, a), Bv = valuesOf(backend, b);
  checkLength("native matMul", "a", A, batchA * M * K);
  checkLength("native matMul", "b", Bv, batchB * K * N);
  const C = new Float32Array(batch * M * N);
  const lda = ta ? M : K, ldb = tb ? K : N;
  for (let i = 0; i < batch; i++) {
    const Ai = batchA === 1 ? A : A.subarray(i * M * K, (i + 1) * M * K);
    const Bi = batchB === 1 ? Bv : Bv.subarray(i * K * N, (i + 1) * K * N);
    const Ci = batch === 1 ? C : C.subarray(i * M * N, (i + 1) * M * N);
    lib.rnn_gemm(ta ? 1 : 0, tb ? 1 : 0, M, N, K, Ai, lda, Bi, ldb, Ci, N, 0);
  }
  return backend.makeTensorInfo([...outer, M, N], "float32", C);
}

function cpuKernel(name: string): tf.KernelFunc {
  const config = tf.getKernel(name, "cpu");
  if (!config) throw new Error(`native: tfjs's cpu backend has no ${name} kernel`);
  return config.kernelFunc;
}

type Args = Parameters<tf.KernelFunc>[0];

/**
 * The cpu backend a kernel runs on (tfjs types it as the abstract
 * `KernelBackend`; the native backend is tfjs's cpu backend with native kernels).
 *
 * @throws {Error} for a backend without the cpu backend's tensor storage.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert";
 * throws(() => cpuBackendOf({ backend: {} } as Parameters<typeof cpuBackendOf>[0]), /not tfjs's cpu backend/);
 * ```
 */
export function cpuBackendOf(args: { backend: object }): CpuBackend {
  const backend = args.backend;
  if (!isCpuBackend(backend)) {
    throw new Error("native: the kernel's backend is not tfjs's cpu backend");
  }
  return backend;
}

function isCpuBackend(backend: object): backend is CpuBackend {
  return "data" in backend && typeof backend.data === "object" && "makeTensorInfo" in backend &&
    typeof backend.makeTensorInfo === "function";
}

/** A kernel's attributes as it reads them (tfjs types them as a loose `NamedAttrMap`). */
function attrsOf<A extends tf.NamedAttrMap>(args: Args): A {
  return args.attrs as A;
}

function batchMatMulKernel(args: Args): TensorInfo {
  const { a, b } = args.inputs as Record<string, TensorInfo>;
  return matMul(
    cpuBackendOf(args),
    a,
    b,
    attrsOf<MatMulAttrs>(args),
  ) ??
    cpuKernel("BatchMatMul")(args) as TensorInfo;
}

/** `_FusedMatMul`: the product natively; bias and a linear or relu activation added here. */
function fusedMatMulKernel(args: Args): TensorInfo {
  const backend = cpuBackendOf(args);
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo>;
  const attrs = attrsOf<MatMulAttrs & { activation?: string }>(args);
  const activation = attrs.activation ?? "linear";
  const fallback = () => cpuKernel("_FusedMatMul")(args) as TensorInfo;
  if (preluActivationWeights || (activation !== "linear" && activation !== "relu")) {
    return fallback();
  }
  const product = matMul(backend, a, b, attrs);
  if (!product) return fallback();
  let out = product;
  if (bias) {
    out = cpuKernel("Add")({
      inputs: { a: product, b: bias },
      backend: args.backend,
      attrs: {},
    }) as TensorInfo;
    backend.disposeIntermediateTensorInfo(product);
  }
  if (activation === "relu") {
    const values = valuesOf(backend, out);
    for (let i = 0; i < values.length; i++) if (!(values[i] > 0)) values[i] = 0;
  }
  return out;
}

/** `rnn_binary`'s operation code of each tfjs kernel it runs (kernels.c). */
export const BINARY_OPS: Readonly<Record<string, number>> = {
  Add: 0,
  Sub: 1,
  Multiply: 2,
};

/**
 * An operand's element strides along each dim of the broadcast `outShape`: 0
 * where the operand has size 1 there or lacks the dim (tfjs aligns shapes at
 * the right).
 */
function broadcastStrides(shape: number[], outShape: number[]): Int32Array {
  const strides = new Int32Array(outShape.length);
  let stride = 1;
  for (let i = shape.length - 1, o = outShape.length - 1; i >= 0; i--, o--) {
    strides[o] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

/** Add, Sub, Multiply of float32 operands: same shape, a scalar, or broadcast (rank <= 8). */
function binaryKernel(name: string): tf.KernelFunc {
  return (args: Args) => {
    const backend = cpuBackendOf(args);
    const { a, b } = args.inputs as Record<string, TensorInfo>;
    const lib = symbols;
    if (lib && a.dtype === "float32" && b.dtype === "float32") {
      const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      const n = shape.reduce((x, y) => x * y, 1);
      const A = valuesOf(backend, a), Bv = valuesOf(backend, b);
      if ((A.length === n || A.length === 1) && (Bv.length === n || Bv.length === 1) && n > 0) {
        const out = new Float32Array(n);
        lib.rnn_binary(
          BINARY_OPS[name],
          BigInt(n),
          A,
          BigInt(A.length),
          Bv,
          BigInt(Bv.length),
          out,
        );
        return backend.makeTensorInfo(shape, "float32", out);
      }
      if (n > 0 && shape.length <= 8) {
        // Broadcast (a bias row, a mask column): cpu's kernel indexes every element in JS.
        checkLength(`native ${name}`, "a", A, a.shape.reduce((x, y) => x * y, 1));
        checkLength(`native ${name}`, "b", Bv, b.shape.reduce((x, y) => x * y, 1));
        const out = new Float32Array(n);
        lib.rnn_binary_bcast(
          BINARY_OPS[name],
          shape.length,
          Int32Array.from(shape),
          broadcastStrides(a.shape, shape),
          broadcastStrides(b.shape, shape),
          A,
          Bv,
          out,
        );
        return backend.makeTensorInfo(shape, "float32", out);
      }
    }
    return cpuKernel(name)(args) as TensorInfo;
  };
}

/*
 * Elementwise kernels that tfjs's cpu backend runs through a callback per
 * element or a broadcasting index walk: dropout's `Floor` and `RealDiv`, the
 * length masks' `LogicalNot`, `Select` and `ZerosLike`, each about 5 ms on a
 * seq2seq step's [T, B, H]. Plain loops here give the same values (JavaScript
 * computes in double and the arrays round to float32, as cpu's kernels do);
 * other dtypes and broadcast shapes go to cpu's kernel.
 */

type Stored = Float32Array | Int32Array | Uint8Array;

/** A tensor's values as the cpu backend keeps them for its dtype (no copy), or null. */
function storedValues(backend: CpuBackend, t: TensorInfo): Stored | null {
  const values = backend.data.has(t.dataId) ? backend.data.get(t.dataId)?.values : undefined;
  if (t.dtype === "float32") return values instanceof Float32Array ? values : null;
  if (t.dtype === "int32") return values instanceof Int32Array ? values : null;
  if (t.dtype === "bool") return values instanceof Uint8Array ? values : null;
  return null;
}

function sizeOf(shape: number[]): number {
  return shape.reduce((x, y) => x * y, 1);
}

function floorKernel(args: Args): TensorInfo {
  const backend = cpuBackendOf(args);
  const { x } = args.inputs as Record<string, TensorInfo>;
  const X = storedValues(backend, x);
  if (!(X instanceof Float32Array)) return cpuKernel("Floor")(args) as TensorInfo;
  const out = new Float32Array(X.length);
  for (let i = 0; i < X.length; i++) out[i] = Math.floor(X[i]);
  return backend.makeTensorInfo(x.shape, "float32", out);
}

/** a / b for float32 operands of one shape, or one of them a scalar. */
function realDivKernel(args: Args): TensorInfo {
  const backend = cpuBackendOf(args);
  const { a, b } = args.inputs as Record<string, TensorInfo>;
  const A = storedValues(backend, a), B = storedValues(backend, b);
  const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const n = sizeOf(shape);
  const fits = (v: Stored | null): v is Float32Array =>
    v instanceof Float32Array && (v.length === n || v.length === 1);
  if (!fits(A) || !fits(B) || n === 0) return cpuKernel("RealDiv")(args) as TensorInfo;
  const out = new Float32Array(n);
  if (A.length === n && B.length === n) { for (let i = 0; i < n; i++) out[i] = A[i] / B[i]; }
  else if (B.length === 1) { for (let i = 0, d = B[0]; i < n; i++) out[i] = A[i] / d; }
  else for (let i = 0, c = A[0]; i < n; i++) out[i] = c / B[i];
  return backend.makeTensorInfo(shape, "float32", out);
}

function logicalNotKernel(args: Args): TensorInfo {
  const backend = cpuBackendOf(args);
  const { x } = args.inputs as Record<string, TensorInfo>;
  const X = storedValues(backend, x);
  if (!(X instanceof Uint8Array)) return cpuKernel("LogicalNot")(args) as TensorInfo;
  const out = new Uint8Array(X.length);
  for (let i = 0; i < X.length; i++) out[i] = X[i] ? 0 : 1;
  return backend.makeTensorInfo(x.shape, "bool", out);
}

function zerosLikeKernel(args: Args): TensorInfo {
  const backend = cpuBackendOf(args);
  const { x } = args.inputs as Record<string, TensorInfo>;
  const n = sizeOf(x.shape);
  if (x.dtype === "float32") return backend.makeTensorInfo(x.shape, x.dtype, new Float32Array(n));
  if (x.dtype === "int32") return backend.makeTensorInfo(x.shape, x.dtype, new Int32Array(n));
  if (x.dtype === "bool") return backend.makeTensorInfo(x.shape, x.dtype, new Uint8Array(n));
  return cpuKernel("ZerosLike")(args) as TensorInfo;
}

/** condition ? t : e, all of one size (cpu's kernel also takes a condition over the first axis). */
function selectKernel(args: Args): TensorInfo {
  const backend = cpuBackendOf(args);
  const { condition, t, e } = args.inputs as Record<string, TensorInfo>;
  const C = storedValues(backend, condition), T = storedValues(backend, t);
  const E = storedValues(backend, e);
  if (
    !(C instanceof Uint8Array) || !(T instanceof Float32Array) || !(E instanceof Float32Array) ||
    C.length !== T.length || E.length !== T.length
  ) {
    return cpuKernel("Select")(args) as TensorInfo;
  }
  const out = new Float32Array(T.length);
  for (let i = 0; i < T.length; i++) out[i] = C[i] ? T[i] : E[i];
  return backend.makeTensorInfo(t.shape, "float32", out);
}

/** A 2-D float32 transpose natively, N-D ones that keep the last axis by rows; else cpu's. */
function transposeKernel(args: Args): TensorInfo {
  const backend = cpuBackendOf(args);
  const { x } = args.inputs as Record<string, TensorInfo>;
  const { perm } = attrsOf<{ perm: number[] }>(args);
  if (symbols && x.dtype === "float32" && x.shape.length === 2 && perm[0] === 1) {
    const [R, C] = x.shape;
    const input = valuesOf(backend, x);
    checkLength("native transpose", "x", input, R * C);
    const out = new Float32Array(R * C);
    symbols.rnn_transpose(R, C, input, out);
    return backend.makeTensorInfo([C, R], "float32", out);
  }
  const rank = x.shape.length;
  if (x.dtype === "float32" && rank > 2 && perm[rank - 1] === rank - 1) {
    return keptLastAxisTranspose(backend, x, perm);
  }
  return cpuKernel("Transpose")(args) as TensorInfo;
}

/**
 * A transpose that keeps the last axis in place (`[T, B, H] -> [B, T, H]`):
 * whole rows copied (cpu's indexes every element through its coordinates).
 */
function keptLastAxisTranspose(
  backend: CpuBackend,
  x: TensorInfo,
  perm: number[],
): TensorInfo {
  const rank = x.shape.length, run = x.shape[rank - 1];
  const input = valuesOf(backend, x);
  checkLength("native transpose", "x", input, x.shape.reduce((p, d) => p * d, 1));
  const strides = new Array(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1] * x.shape[i + 1];
  const outShape = perm.map((p) => x.shape[p]);
  const out = new Float32Array(input.length);
  let at = 0;
  const copy = (dim: number, offset: number) => {
    if (dim === rank - 1) {
      out.set(input.subarray(offset, offset + run), at);
      at += run;
      return;
    }
    const stride = strides[perm[dim]];
    for (let i = 0; i < outShape[dim]; i++) copy(dim + 1, offset + i * stride);
  };
  if (out.length > 0) copy(0, 0);
  return backend.makeTensorInfo(outShape, "float32", out);
}

/** Constant padding of float32 tensors by block copies (cpu's indexes every element). */
function padKernel(args: Args): TensorInfo {
  const backend = cpuBackendOf(args);
  const { x } = args.inputs as Record<string, TensorInfo>;
  const { paddings, constantValue } = attrsOf<{
    paddings: [number, number][];
    constantValue: number;
  }>(args);
  if (x.dtype !== "float32" || x.shape.length === 0) {
    return cpuKernel("PadV2")(args) as TensorInfo;
  }
  const input = valuesOf(backend, x);
  const outShape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
  const out = new Float32Array(outShape.reduce((p, d) => p * d, 1));
  if (constantValue !== 0) out.fill(constantValue);
  const rank = x.shape.length;
  const inStrides = new Array(rank).fill(1), outStrides = new Array(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) {
    inStrides[i] = inStrides[i + 1] * x.shape[i + 1];
    outStrides[i] = outStrides[i + 1] * outShape[i + 1];
  }
  // The innermost dims without padding join the contiguous run copied at once (a slice's
  // gradient, zeros after [T*B, H] rows, is one copy instead of a call a row: 0.3 ms for the LSTM).
  let inner = rank - 1;
  while (inner > 0 && paddings[inner][0] === 0 && paddings[inner][1] === 0) inner--;
  const run = inStrides[inner] * x.shape[inner];
  const copy = (dim: number, inAt: number, outAt: number) => {
    if (dim === inner) {
      out.set(input.subarray(inAt, inAt + run), outAt + paddings[dim][0] * outStrides[dim]);
      return;
    }
    for (let i = 0; i < x.shape[dim]; i++) {
      copy(dim + 1, inAt + i * inStrides[dim], outAt + (i + paddings[dim][0]) * outStrides[dim]);
    }
  };
  if (input.length > 0) copy(0, 0, 0);
  return backend.makeTensorInfo(outShape, "float32", out);
}

/** The buffers that a tensor made over a view of them shares (see recycling, sharesMemory). */
const viewed = new WeakSet<ArrayBufferLike>();

/**
 * Whether other arrays may see writes to `values`: it is a view into a larger
 * buffer, or a tensor was made over a view of its buffer (the native Slice's,
 * cpu's Unpack's, a caller's subarray). A kernel that updates a tensor's values
 * in place must not touch such an array.
 *
 * @example A fresh array shares nothing; a part of it does
 * ```ts
 * import { strictEqual } from "node:assert";
 * const a = new Float32Array(4);
 * strictEqual(sharesMemory(a), false);
 * strictEqual(sharesMemory(a.subarray(1)), true);
 * ```
 */
export function sharesMemory(values: Float32Array): boolean {
  return partOfBuffer(values) || viewed.has(values.buffer);
}

/** Whether an array views only part of its buffer (a subarray). */
function partOfBuffer(values: ArrayBufferView): boolean {
  return values.byteLength !== values.buffer.byteLength;
}

/**
 * Slice of a float32 tensor by block copies of its contiguous runs (cpu's
 * kernel reads and writes a strided slice element by element through index
 * arithmetic: most of a seq2seq training step). A slice that is one run of at
 * least half the input is a view of the input's memory instead (never of a
 * scratch array, which is reused); a smaller one is copied, so that a few
 * rows kept (a sequence's last state) do not hold a whole sequence's memory.
 */
function sliceKernel(args: Args): TensorInfo {
  const backend = cpuBackendOf(args);
  const { x } = args.inputs as Record<string, TensorInfo>;
  const { begin, size } = attrsOf<{ begin: number[]; size: number[] }>(args);
  if (x.dtype !== "float32" || x.shape.length === 0) {
    return cpuKernel("Slice")(args) as TensorInfo;
  }
  const [start, extent] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
  tf.slice_util.assertParamsValid(x as tf.Tensor, start, extent);
  const input = valuesOf(backend, x);
  const rank = x.shape.length;
  checkLength("native slice", "x", input, x.shape.reduce((p, d) => p * d, 1));
  // The innermost dims taken whole join the contiguous run copied at once.
  let inner = rank - 1, run = extent[rank - 1];
  while (inner > 0 && extent[inner] === x.shape[inner]) run *= extent[--inner];
  const strides = new Array(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1] * x.shape[i + 1];
  const total = extent.reduce((p, d) => p * d, 1);
  if (inner === 0 && 2 * total >= input.length && !pooled.has(input)) {
    // One run of at least half the input: a view of its memory, as cpu's kernel gives (a fresh
    // array of the LSTM's [T*B, H] outputs cost 0.4 ms a step in its zeroing and the collector).
    const from = start[0] * strides[0];
    viewed.add(input.buffer); // (a view of all of it looks like an array of its own)
    return backend.makeTensorInfo(extent, "float32", input.subarray(from, from + total));
  }
  const out = new Float32Array(total);
  let at = 0;
  const copy = (dim: number, offset: number) => {
    if (dim === inner) {
      const from = offset + start[dim] * strides[dim];
      out.set(input.subarray(from, from + run), at);
      at += run;
      return;
    }
    for (let i = 0; i < extent[dim]; i++) copy(dim + 1, offset + (start[dim] + i) * strides[dim]);
  };
  if (out.length > 0) copy(0, 0);
  return backend.makeTensorInfo(extent, "float32", out);
}

/**
 * Concat of float32 tensors by runs: each input's rows (everything after the
 * axis) copied whole into the output's (cpu's copies element by element
 * through a 2-D view: a seq2seq decoder input of 331k values cost 2 ms).
 */
function concatKernel(args: Args): TensorInfo {
  const backend = cpuBackendOf(args);
  const inputs = args.inputs as unknown as TensorInfo[];
  const { axis } = attrsOf<{ axis: number }>(args);
  if (inputs.length === 0 || inputs.some((t) => t.dtype !== "float32")) {
    return cpuKernel("Concat")(args) as TensorInfo;
  }
  const shapes = inputs.map((t) => t.shape);
  const dim = tf.util.parseAxisParam(axis, shapes[0])[0];
  tf.backend_util.assertParamsConsistent(shapes, dim);
  const outShape = tf.backend_util.computeOutShape(shapes, dim);
  const out = new Float32Array(sizeOf(outShape));
  const outer = sizeOf(outShape.slice(0, dim));
  if (out.length > 0) {
    const width = out.length / outer; // of an output row
    let column = 0;
    for (const t of inputs) {
      const values = valuesOf(backend, t);
      checkLength("native concat", "an input", values, sizeOf(t.shape));
      const run = values.length / outer;
      for (let r = 0; r < outer && run > 0; r++) {
        out.set(values.subarray(r * run, (r + 1) * run), r * width + column);
      }
      column += run;
    }
  }
  return backend.makeTensorInfo(outShape, "float32", out);
}

/** SplitV as native slices (cpu's calls its own element-wise slice for each piece). */
function splitVKernel(args: Args): TensorInfo[] {
  const { x } = args.inputs as Record<string, TensorInfo>;
  const { numOrSizeSplits, axis } = attrsOf<{
    numOrSizeSplits: number | number[];
    axis: number;
  }>(args);
  const dim = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, dim);
  const begin = new Array(x.shape.length).fill(0);
  return sizes.map((piece) => {
    const size = [...x.shape];
    size[dim] = piece;
    const out = sliceKernel({
      inputs: { x },
      backend: args.backend,
      attrs: { begin: [...begin], size },
    });
    begin[dim] += piece;
    return out;
  });
}

/**
 * Sum of float32 values over one contiguous range of axes, `[outer, reduce,
 * inner]`, without the transpose cpu's kernel makes first (its N-D transpose
 * indexes every element). Sums in float64 in the same order as cpu's (equal
 * results); every other case is cpu's.
 */
function sumKernel(args: Args): TensorInfo {
  const backend = cpuBackendOf(args);
  const { x } = args.inputs as Record<string, TensorInfo>;
  const { axis, keepDims } = attrsOf<{
    axis: number | number[];
    keepDims: boolean;
  }>(args);
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const contiguous = axes.every((a, i) => i === 0 || a === axes[i - 1] + 1);
  if (x.dtype !== "float32" || axes.length === 0 || !contiguous) {
    return cpuKernel("Sum")(args) as TensorInfo;
  }
  const first = axes[0], last = axes[axes.length - 1];
  const size = (dims: number[]) => dims.reduce((p, d) => p * d, 1);
  const outer = size(x.shape.slice(0, first)), reduce = size(x.shape.slice(first, last + 1));
  const inner = size(x.shape.slice(last + 1));
  const input = valuesOf(backend, x);
  checkLength("native sum", "x", input, outer * reduce * inner);
  const acc = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    const at = o * inner;
    for (let r = 0; r < reduce; r++) {
      const from = (o * reduce + r) * inner;
      for (let i = 0; i < inner; i++) acc[at + i] += input[from + i];
    }
  }
  const shape = keepDims
    ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d))
    : x.shape.filter((_, i) => i < first || i > last);
  return backend.makeTensorInfo(shape, "float32", Float32Array.from(acc));
}

let registered = false;

/**
 * Scratch arrays that tensors of the native backend hold for a kernel's own
 * use (the fused sequence's saved activations), by length: a disposed one is
 * kept here for the next call of that size instead of left to the garbage
 * collector. A fresh array of megabytes costs its zeroing and page faults on
 * every step (about 2 ms for the LSTM's 7 MB).
 */
const scratchPool = new Map<number, Float32Array[]>();
/** The arrays handed out by scratchArray(): only these return to the pool. */
const pooled = new WeakSet<Float32Array>();
/** Arrays kept at most, per length. */
const POOL_DEPTH = 8;

/**
 * A float32 array of n values for a tensor that only the native kernels read
 * (never a tensor a user sees: its values are not zeroed and its memory is
 * reused once the tensor is disposed). The kernel must write every value.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(scratchArray(6).length, 6);
 * ```
 */
export function scratchArray(n: number): Float32Array {
  const kept = scratchPool.get(n)?.pop();
  if (kept) return kept;
  const fresh = new Float32Array(n);
  pooled.add(fresh);
  return fresh;
}

/**
 * The cpu backend with its disposals returning scratchArray()'s arrays to the
 * pool, and every tensor made over a view of a larger buffer (the native
 * Slice's, cpu's Unpack and StridedSlice's, a caller's subarray) marking that
 * buffer shared (see sharesMemory).
 */
function recycling(backend: tf.KernelBackend): tf.KernelBackend {
  const cpu = cpuBackendOf({ backend });
  const noteView = (values: unknown) => {
    if (ArrayBuffer.isView(values) && partOfBuffer(values)) {
      viewed.add(values.buffer);
    }
  };
  const write = backend.write.bind(backend);
  backend.write = (values, shape, dtype) => {
    noteView(values);
    return write(values, shape, dtype);
  };
  const move = backend.move.bind(backend);
  backend.move = (dataId, values, shape, dtype, refCount) => {
    noteView(values);
    move(dataId, values, shape, dtype, refCount);
  };
  const dispose = backend.disposeData.bind(backend);
  backend.disposeData = (dataId: object, force?: boolean) => {
    const values = cpu.data.get(dataId)?.values;
    const freed = dispose(dataId, force);
    // A forced disposal moves the data to another backend, which keeps the array: not ours again.
    // Nor is one that a view may still read.
    if (
      freed && !force && values instanceof Float32Array && pooled.has(values) &&
      !sharesMemory(values)
    ) {
      const list = scratchPool.get(values.length) ?? [];
      if (list.length < POOL_DEPTH) list.push(values);
      scratchPool.set(values.length, list);
    }
    return freed;
  };
  return backend;
}

/** Registers the backend and its kernels with tfjs once. */
function register(): void {
  if (registered) return;
  registered = true;
  const cpu = tf.findBackendFactory("cpu");
  if (!cpu) throw new Error("tfjs's cpu backend is not registered");
  tf.registerBackend(NATIVE_BACKEND, async () => recycling(await cpu()), -1);
  declareTransposingMatMul(NATIVE_BACKEND); // rnn_gemm packs a transposed operand as it reads it
  const own: Record<string, tf.KernelFunc> = {
    BatchMatMul: batchMatMulKernel as tf.KernelFunc,
    _FusedMatMul: fusedMatMulKernel as tf.KernelFunc,
    Add: binaryKernel("Add"),
    Sub: binaryKernel("Sub"),
    Multiply: binaryKernel("Multiply"),
    Transpose: transposeKernel as tf.KernelFunc,
    PadV2: padKernel as tf.KernelFunc,
    Slice: sliceKernel as tf.KernelFunc,
    SplitV: splitVKernel as tf.KernelFunc,
    Concat: concatKernel as tf.KernelFunc,
    Sum: sumKernel as tf.KernelFunc,
    Floor: floorKernel as tf.KernelFunc,
    RealDiv: realDivKernel as tf.KernelFunc,
    LogicalNot: logicalNotKernel as tf.KernelFunc,
    ZerosLike: zerosLikeKernel as tf.KernelFunc,
    Select: selectKernel as tf.KernelFunc,
  };
  for (const [kernelName, kernelFunc] of Object.entries(own)) {
    tf.registerKernel({ kernelName, backendName: NATIVE_BACKEND, kernelFunc });
  }
  for (const config of tf.getKernelsForBackend("cpu")) {
    if (config.kernelName in own || tf.getKernel(config.kernelName, NATIVE_BACKEND)) continue;
    tf.registerKernel({ ...config, backendName: NATIVE_BACKEND });
  }
}

/** The cores this process may use. */
function defaultThreads(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/**
 * Builds or loads the native library, registers the backend and sets its
 * threads; what `useBackend("native")` calls.
 *
 * @returns the threads in use and the notices to show.
 * @throws {Error} with a one-line reason when the library cannot be had.
 *
 * @example Start it directly (useBackend("native") is the usual way)
 * ```ts
 * try {
 *   const { threads } = await startNativeBackend({ threads: 1 });
 *   console.log(`native kernels ready, ${threads} thread`);
 * } catch (error) {
 *   console.log((error as Error).message);
 * }
 * ```
 */
export async function startNativeBackend(
  options: UseBackendOptions = {},
): Promise<{ threads: number; notices: string[] }> {
  const wanted = options.threads ?? defaultThreads();
  if (!Number.isInteger(wanted) || wanted < 1) {
    throw new Error(`threads must be a positive integer, got ${wanted}`);
  }
  let notices: string[] = [];
  if (!symbols) {
    const load = await loadNative();
    if (!load.ok) throw new Error(load.reason);
    symbols = load.symbols;
    notices = load.notices;
  }
  threads = symbols.rnn_set_threads(wanted);
  register();
  return { threads, notices };
}

registerBackendStarter(NATIVE_BACKEND, startNativeBackend);
