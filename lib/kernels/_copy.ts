/**
 * Block copies of 2-D tensors: `block` (a rectangle of rows and columns) and
 * `concat2d` (along rows or columns), with a wasm-only fast path.
 *
 * Why a fast path: tfjs-backend-wasm 4.22 runs `Slice`, `Concat`, `SplitV` and
 * `Unpack` in JavaScript, and each first copies the *whole* input out of the
 * wasm heap (`readSync` → `HEAPU8.slice`). Taking one step's rows `[B, G*H]`
 * out of a sequence-sized `[T*B, G*H]` tensor then costs a 4.5 MB copy
 * (~1.2 ms) instead of a 128 KB one, and `GatherV2` is no better (~1 ms).
 * The wasm kernels below copy only the rows they need, straight between heap
 * views. On every other backend, and for dtypes other than float32, the plain
 * `tf.slice` / `tf.concat` run instead.
 *
 * `block` is differentiable everywhere (its wasm kernel has a registered
 * gradient: `pad`). `concat2d` is meant for use inside a custom gradient only;
 * its wasm kernel has no gradient.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor, Tensor2D, TensorInfo } from "../ops/tensors.ts";
import {
  heapOffset,
  type KernelArgs,
  registerWasmKernel,
  runKernel,
  useWasmPath,
  type WasmHeapBackend,
} from "./_wasm_heap.ts";

const BLOCK_KERNEL = "RnnDenoBlock2D";
const CONCAT_KERNEL = "RnnDenoConcat2D";
const SPLIT_KERNEL = "RnnDenoSplit2D";

interface BlockAttrs {
  begin: [number, number];
  size: [number, number];
}

function blockKernel(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const x = args.inputs.x as TensorInfo;
  const { begin: [row, col], size: [rows, cols] } = args.attrs as BlockAttrs;
  const width = x.shape[1];
  const out = backend.makeOutput([rows, cols], x.dtype);
  // Offsets are taken after makeOutput: an allocation may grow (and move) the heap.
  const { heap, offset: src } = heapOffset(backend, x);
  const dst = heapOffset(backend, out).offset;
  if (cols === width) {
    heap.copyWithin(dst, src + row * width, src + (row + rows) * width);
  } else {
    for (let r = 0; r < rows; r++) {
      const from = src + (row + r) * width + col;
      heap.copyWithin(dst + r * cols, from, from + cols);
    }
  }
  return out;
}

/**
 * Copies `rows` rows of `width` elements, source rows `srcStride` apart,
 * destination rows `dstStride` apart. Narrow rows are copied element by
 * element: `copyWithin`'s fixed cost is worth it only for long ones.
 */
function copyRows(
  heap: Float32Array,
  src: number,
  srcStride: number,
  dst: number,
  dstStride: number,
  rows: number,
  width: number,
): void {
  if (width >= 32) {
    for (let r = 0; r < rows; r++) {
      const from = src + r * srcStride;
      heap.copyWithin(dst + r * dstStride, from, from + width);
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const from = src + r * srcStride, to = dst + r * dstStride;
    for (let k = 0; k < width; k++) heap[to + k] = heap[from + k];
  }
}

function concatKernel(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const { axis } = args.attrs as { axis: 0 | 1 };
  const parts = Object.values(args.inputs) as TensorInfo[];
  const rows = axis === 0 ? parts.reduce((n, p) => n + p.shape[0], 0) : parts[0].shape[0];
  const cols = axis === 1 ? parts.reduce((n, p) => n + p.shape[1], 0) : parts[0].shape[1];
  const out = backend.makeOutput([rows, cols], parts[0].dtype);
  const { heap, offset: dst } = heapOffset(backend, out);
  let at = 0;
  for (const part of parts) {
    const src = heapOffset(backend, part).offset;
    const [r, w] = part.shape;
    if (axis === 0) {
      heap.copyWithin(dst + at, src, src + r * w);
      at += r * w;
    } else {
      copyRows(heap, src, w, dst + at, cols, rows, w);
      at += w;
    }
  }
  return out;
}

/** Splits rows (`axis` 0) or columns (`axis` 1) into pieces of the given sizes: many outputs, one call. */
function splitKernel(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as WasmHeapBackend;
  const x = args.inputs.x as TensorInfo;
  const { axis, sizes } = args.attrs as { axis: 0 | 1; sizes: number[] };
  const [rows, width] = x.shape;
  const outs = sizes.map((n) => backend.makeOutput(axis === 0 ? [n, width] : [rows, n], x.dtype));
  const { heap, offset: src } = heapOffset(backend, x);
  let at = 0;
  for (const [k, out] of outs.entries()) {
    const dst = heapOffset(backend, out).offset, n = sizes[k];
    if (axis === 0) {
      heap.copyWithin(dst, src + at * width, src + (at + n) * width);
    } else {
      copyRows(heap, src + at, width, dst, n, rows, n);
    }
    at += n;
  }
  return outs;
}

function register(): void {
  registerWasmKernel(BLOCK_KERNEL, blockKernel);
  registerWasmKernel(CONCAT_KERNEL, concatKernel);
  registerWasmKernel(SPLIT_KERNEL, splitKernel);
  if (tf.getGradient(BLOCK_KERNEL) == null) {
    tf.registerGradient({
      kernelName: BLOCK_KERNEL,
      inputsToSave: ["x"],
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved;
        const { begin: [row, col], size: [rows, cols] } = attrs as object as BlockAttrs;
        const [height, width] = x.shape;
        return {
          x: () => tf.pad(dy as Tensor2D, [[row, height - row - rows], [col, width - col - cols]]),
        };
      },
    });
  }
}
register();

/**
 * Rows `[row, row + rows)` and columns `[col, col + cols)` of a 2-D tensor,
 * as a new `[rows, cols]` tensor. Same result and gradient as `tf.slice`.
 *
 * @param x the tensor to copy from, `[R, C]`.
 * @param row first row; @param rows how many rows.
 * @param col first column (default 0); @param cols how many (default: to the end).
 * @returns `[rows, cols]`, owned by the caller (tracked by the enclosing `tidy`).
 *
 * @example A block of rows and columns
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * deepStrictEqual(await block(tf.tensor2d([[1, 2, 3], [4, 5, 6]]), 1, 1, 1, 2).array(), [[5, 6]]);
 * ```
 */
export function block(
  x: Tensor,
  row: number,
  rows: number,
  col = 0,
  cols: number = (x.shape[1] as number) - col,
): Tensor2D {
  if (!useWasmPath([x])) return tf.slice(x, [row, col], [rows, cols]) as Tensor2D;
  const attrs = { begin: [row, col], size: [rows, cols] };
  return runKernel<Tensor2D>(BLOCK_KERNEL, { x }, attrs);
}

/**
 * Concatenates 2-D tensors along rows (`axis` 0) or columns (`axis` 1).
 * Same result as `tf.concat`; not differentiable on wasm (use it inside a
 * custom gradient).
 *
 * @param xs the tensors, all `[R, C_i]` for axis 1 or `[R_i, C]` for axis 0.
 * @param axis 0 to stack rows, 1 to place side by side.
 * @returns the concatenation, owned by the caller.
 *
 * @example Side by side
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * deepStrictEqual(await concat2d([tf.tensor2d([[1]]), tf.tensor2d([[2]])], 1).array(), [[1, 2]]);
 * ```
 */
export function concat2d(xs: readonly Tensor[], axis: 0 | 1): Tensor2D {
  if (xs.length === 1) return tf.clone(xs[0]) as Tensor2D;
  if (!useWasmPath(xs)) return tf.concat(xs as Tensor[], axis) as Tensor2D;
  const inputs = Object.fromEntries(xs.map((x, i) => [String(i), x]));
  return runKernel<Tensor2D>(CONCAT_KERNEL, inputs, { axis });
}

/**
 * Splits a 2-D tensor into pieces along rows (`axis` 0) or columns (`axis` 1).
 * Same result as `tf.split`, in one call; not differentiable on wasm (use it
 * inside a custom gradient).
 *
 * @param x the tensor `[R, C]`.
 * @param sizes the pieces' sizes along `axis` (they add up to `R` or `C`), or
 *   a count of equal pieces.
 * @param axis 0 for row blocks, 1 for column blocks.
 * @returns the pieces, owned by the caller.
 *
 * @example Column blocks of given widths
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const [a, b] = split2d(tf.tensor2d([[1, 2, 3]]), [1, 2], 1);
 * deepStrictEqual([await a.array(), await b.array()], [[[1]], [[2, 3]]]);
 * ```
 */
export function split2d(x: Tensor, sizes: number[] | number, axis: 0 | 1): Tensor2D[] {
  const total = x.shape[axis] as number;
  const list = typeof sizes === "number" ? new Array(sizes).fill(total / sizes) : sizes;
  if (!useWasmPath([x])) return tf.split(x, list, axis) as Tensor2D[];
  return runKernel<Tensor2D[]>(SPLIT_KERNEL, { x }, { axis, sizes: list });
}
