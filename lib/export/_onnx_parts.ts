/**
 * Graph pieces shared by the model graphs: embeddings, dense layers, masks,
 * state inputs that may be left empty, and the output of a dense layer.
 *
 * @module
 */
import type { tf } from "../tf.ts";
import type { GraphBuilder } from "./_graph.ts";

/** `Gather(table, ids)`: rows of an embedding table `[V, E]` for int64 ids of any shape. */
export function gatherRows(g: GraphBuilder, table: tf.Tensor, ids: string, stem: string): string {
  const [V, E] = table.shape as [number, number];
  return g.op("Gather", [g.floats(stem, [V, E], table.dataSync() as Float32Array), ids], {
    axis: 0,
  });
}

/** `x W + b` over the last axis of `x` (`Gemm` for rank 2, `MatMul` + `Add` above). */
export function denseGraph(
  g: GraphBuilder,
  x: string,
  kernel: tf.Tensor,
  bias: tf.Tensor | undefined,
  rank: number,
  stem: string,
): string {
  const [I, O] = kernel.shape as [number, number];
  const W = g.floats(`${stem}_W`, [I, O], kernel.dataSync() as Float32Array);
  const b = bias ? g.floats(`${stem}_b`, [O], bias.dataSync() as Float32Array) : undefined;
  if (rank === 2 && b) return g.op("Gemm", [x, W, b]);
  const product = g.op("MatMul", [x, W]);
  return b ? g.op("Add", [product, b]) : product;
}

/**
 * A float mask `[T, B]` (1 on each sequence's real steps) from int32 lengths
 * `[B]` and the number of steps as int64 `[1]`.
 */
export function stepMask(g: GraphBuilder, lengths: string, steps: string): string {
  const T = g.op("Squeeze", [steps, g.ints("axes", [0])]); // scalar
  const range = g.op("Range", [g.ints("zero", [0], []), T, g.ints("one", [1], [])]); // [T]
  const lengths64 = g.op("Cast", [lengths], { to: 7 }); // int64 [B]
  const less = g.op("Less", [g.unsqueeze(range, [1]), g.unsqueeze(lengths64, [0])]); // [T, B]
  return g.op("Cast", [less], { to: 1 });
}

/**
 * A state input that may be given with batch size 0 to mean "the default":
 * `Concat([given, fallback], axis 1)[:, :B]`, the given state when it has B
 * rows, else the fallback (both `[N, B, H]`).
 */
export function stateOrDefault(
  g: GraphBuilder,
  given: string,
  fallback: string,
  batch: string,
): string {
  const both = g.op("Concat", [given, fallback], { axis: 1 });
  return g.slice(both, 1, 0, batch);
}

/** Float zeros `[n, B, H]` for a batch size given as int64 `[1]`. */
export function zeroStates(g: GraphBuilder, n: number, batch: string, H: number): string {
  const shape = g.op("Concat", [g.ints("n", [n]), batch, g.ints("h", [H])], { axis: 0 });
  return g.zeros(shape);
}

/** `x * mask + (mask - 1) * 1e9`: masked entries become -1e9 (never win a max or a softmax). */
export function maskOut(g: GraphBuilder, x: string, mask: string): string {
  const penalty = g.op("Mul", [
    g.op("Sub", [mask, g.floats("one", [], [1])]),
    g.floats("big", [], [1e9]),
  ]);
  return g.op("Add", [g.op("Mul", [x, mask]), penalty]);
}
