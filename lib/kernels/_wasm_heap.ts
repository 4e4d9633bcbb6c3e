/**
 * What the project's JavaScript kernels on tfjs-backend-wasm share: the part
 * of its backend they use, and where a tensor's values sit in the wasm heap.
 *
 * Why kernels in JavaScript at all: tfjs-backend-wasm 4.22 runs some ops in
 * JavaScript after copying the whole input out of the heap, and others in
 * generic C++ that computes an n-d index per element; a kernel that reads and
 * writes the heap directly, for the one 2-D case the project needs, is several
 * times faster. Each kernel is registered for "wasm" only; its caller runs
 * plain tf ops on every other backend.
 *
 * What does not pay: elementwise arithmetic. A JavaScript loop over the heap
 * costs ~2 ns per element, slower than tfjs's vectorised ops (a `[64, 128]`
 * multiply is ~5 µs either way), so fusing a GRU step's gate arithmetic into
 * one JavaScript kernel made it slower (measured, and dropped). A kernel here
 * earns its place by copying (`copyWithin`) or by replacing many ops on small
 * tensors (Adam's dozen per variable).
 *
 * @module
 */
import { tf } from "../tf.ts";
import type {
  DataType,
  NamedTensorInfoMap,
  NamedTensorMap,
  Tensor,
  TensorInfo,
} from "../ops/tensors.ts";

/** The part of tfjs-backend-wasm's `BackendWasm` these kernels use. */
export interface WasmHeapBackend {
  /** A new output tensor in the wasm heap. */
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  /** A view of a tensor's values in the wasm heap. */
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** The arguments tfjs passes a kernel function. */
export interface KernelArgs {
  /** The kernel's inputs by name. */
  inputs: NamedTensorInfoMap;
  /** The backend running it. */
  backend: unknown;
  /** The kernel's attributes. */
  attrs: unknown;
}

/**
 * The whole wasm heap as float32, and where a tensor starts in it (in
 * elements). Take offsets after every `makeOutput`: an allocation may grow
 * (and move) the heap.
 *
 * @example Where a tensor sits in the wasm heap
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * await tf.setBackend("wasm");
 * const x = tf.tensor1d([1, 2, 3]);
 * const { heap, offset } = heapOffset(tf.backend() as never, x as never);
 * ok(heap[offset + 1] === 2);
 * await tf.setBackend("cpu");
 * ```
 */
export function heapOffset(
  backend: WasmHeapBackend,
  t: TensorInfo,
): { heap: Float32Array; offset: number } {
  const view = backend.typedArrayFromHeap(t);
  return { heap: new Float32Array(view.buffer), offset: view.byteOffset >> 2 };
}

/**
 * Registers a kernel for the wasm backend once (module reloads and tests may ask again).
 *
 * @example Registered once, asked twice
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * const kernel = () => ({ dataId: {}, shape: [], dtype: "float32" as const });
 * registerWasmKernel("DocExampleKernel", kernel);
 * registerWasmKernel("DocExampleKernel", kernel); // no error: already there
 * ok(tf.getKernel("DocExampleKernel", "wasm") != null);
 * ```
 */
export function registerWasmKernel(name: string, kernelFunc: (args: KernelArgs) => unknown): void {
  registerKernelOnce("wasm", name, kernelFunc);
}

/**
 * Registers a kernel of ours on a backend unless one of that name is there
 * already (a module loaded twice, as doc tests do, must not throw).
 *
 * @example Registered once, asked twice
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * const kernel = () => ({ dataId: {}, shape: [], dtype: "float32" as const });
 * registerKernelOnce("cpu", "DocExampleOnceKernel", kernel);
 * registerKernelOnce("cpu", "DocExampleOnceKernel", kernel);
 * ok(tf.getKernel("DocExampleOnceKernel", "cpu") != null);
 * ```
 */
export function registerKernelOnce<A>(
  backendName: string,
  name: string,
  kernelFunc: (args: A) => unknown,
): void {
  if (tf.getKernel(name, backendName) != null) return;
  tf.registerKernel({
    kernelName: name,
    backendName,
    // tfjs calls with { inputs, backend, attrs }; the kernel returns its output(s).
    kernelFunc: (params) => kernelFunc(params as A) as TensorInfo | TensorInfo[],
  });
}

/**
 * Runs a registered kernel with plain-object attributes: `engine().runKernel`
 * typed for our kernels (its own typing wants an attribute map and returns
 * `Tensor | Tensor[]`).
 *
 * @param name the kernel's name.
 * @param inputs the kernel's input tensors by name.
 * @param attrs the kernel's attributes (numbers and arrays of them).
 * @returns the kernel's output(s), owned by the caller.
 *
 * @example Off wasm, any registered kernel runs too
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const y = runKernel<tf.Tensor>("Neg", { x: tf.tensor1d([1, -2]) });
 * deepStrictEqual(await y.array(), [-1, 2]);
 * ```
 */
export function runKernel<T extends Tensor | Tensor[]>(
  name: string,
  inputs: NamedTensorMap,
  attrs: object = {},
): T {
  const engine = tf.engine();
  const run = engine.runKernel as (name: string, inputs: NamedTensorMap, attrs: object) => unknown;
  return run.call(engine, name, inputs, attrs) as T;
}

/**
 * Whether the wasm kernels apply: the wasm backend is active and every tensor is float32.
 *
 * @example Only on wasm, only float32
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * ok(useWasmPath([tf.zeros([1])]) === (tf.getBackend() === "wasm"));
 * ok(!useWasmPath([tf.zeros([1], "int32")]));
 * ```
 */
export function useWasmPath(xs: readonly Tensor[]): boolean {
  return tf.getBackend() === "wasm" && xs.every((x) => x.dtype === "float32");
}
