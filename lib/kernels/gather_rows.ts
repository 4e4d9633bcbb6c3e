/**
 * Rows of a 2-D table by index (`tf.gather` on axis 0), with a wasm fast path:
 * tfjs-backend-wasm's `GatherV2` computes an n-d index per element (~0.5 ms for
 * 448 rows of 32), where copying whole rows inside the heap takes ~20 µs. An
 * embedding lookup is exactly this, once per minibatch.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor1D, Tensor2D, TensorInfo } from "../ops/tensors.ts";
import {
  heapOffset,
  type KernelArgs,
  registerWasmKernel,
  useWasmPath,
  type WasmHeapBackend,
} from "./_wasm_heap.ts";

const GATHER_KERNEL = "RnnDenoGatherRows";

function gatherRowsKernel(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
  const [V, E] = x.shape;
  const N = indices.shape[0];
  const ids = backend.typedArrayFromHeap(indices) as Int32Array;
  for (let i = 0; i < N; i++) {
    if (!(ids[i] >= 0 && ids[i] < V)) {
      throw new Error(`gatherRows: index ${ids[i]} at ${i} is outside [0, ${V})`);
    }
  }
  const out = backend.makeOutput([N, E], x.dtype);
  // Offsets after makeOutput (the heap may have moved); the ids are re-read from it too.
  const at = backend.typedArrayFromHeap(indices) as Int32Array;
  const { heap, offset: src } = heapOffset(backend, x);
  const dst = heapOffset(backend, out).offset;
  for (let i = 0; i < N; i++) {
    const from = src + at[i] * E;
    heap.copyWithin(dst + i * E, from, from + E);
  }
  return out;
}
registerWasmKernel(GATHER_KERNEL, gatherRowsKernel);

/**
 * `table[ids[i], :]` for every `i`: the same values as `tf.gather(table, ids)`.
 * Not differentiable on wasm: use it inside a custom gradient (as the
 * embedding layer does).
 *
 * @param table `[V, E]`.
 * @param ids int32 `[N]`, each in `[0, V)`.
 * @returns `[N, E]`, a new tensor.
 * @throws {Error} for an id outside `[0, V)` (on wasm; tf.gather's own check elsewhere).
 *
 * @example Rows by id
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const table = tf.tensor2d([[0, 0], [1, 2], [3, 4]]);
 * deepStrictEqual(await gatherRows(table, tf.tensor1d([2, 2, 1], "int32")).array(), [[3, 4], [3, 4], [1, 2]]);
 * ```
 */
export function gatherRows(table: Tensor2D, ids: Tensor1D): Tensor2D {
  if (!useWasmPath([table]) || ids.dtype !== "int32") return tf.gather(table, ids);
  return tf.engine().runKernel(GATHER_KERNEL, { x: table, indices: ids }) as Tensor2D;
}
