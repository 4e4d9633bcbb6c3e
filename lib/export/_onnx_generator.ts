/**
 * The conditioned generator's ONNX graph, a step (or chunk) graph: `ids`
 * int64 `[B, T]` (`<bos>` first, then each token drawn; T = 1 for one step),
 * `conditions` int64 `[B]`, and the state `h0` (`c0`) `[layers, B, H]` to
 * `logits` `[B, T, V]` and `hn` (`cn`). A state with batch size 0 means "start
 * a sequence": the condition's initial state (its embedding as every layer's
 * `h` for `init`, zeros otherwise). Sampling stays in the caller.
 *
 * @module
 */
import type { ConditionedGenerator } from "../generate/model.ts";
import { hasCellState } from "../cells/registry.ts";
import { GraphBuilder } from "./_graph.ts";
import { denseGraph, gatherRows, stateOrDefault, zeroStates } from "./_onnx_parts.ts";
import { recurrentGraph } from "./_recurrent.ts";
import type { OnnxModel } from "./onnx_proto.ts";

/** The graph of a generator, with the metadata given. */
export function generatorGraph(
  model: ConditionedGenerator,
  metadata: Record<string, string>,
): OnnxModel {
  const g = new GraphBuilder();
  const { vocabSize: V, hiddenSize: H, layers: L, cell, conditioning } = model.config;
  const ids = g.input("ids", "int64", ["B", "T"]);
  const conditions = g.input("conditions", "int64", ["B"]);
  const h0 = g.input("h0", "float", [L, "B0", H]);
  const c0 = hasCellState(cell) ? g.input("c0", "float", [L, "B0", H]) : undefined;
  const batch = g.dim(ids, 0);
  const zeros = zeroStates(g, L, batch, H);
  let xs = gatherRows(g, model.embedding.table, g.transpose(ids, [1, 0]), "embedding"); // [T, B, E]
  let start = zeros;
  if (conditioning !== "none") {
    const condition = gatherRows(g, model.condition!.table, conditions, "condition"); // [B, C]
    if (conditioning === "init") {
      // [B, L*H] -> [B, L, H] -> [L, B, H]: layer l starts from columns l*H .. (l+1)*H.
      start = g.transpose(g.reshape(condition, [0, L, H]), [1, 0, 2]);
    } else {
      const shape = g.op("Concat", [g.dim(xs, 0), batch, g.dim(condition, 1)], { axis: 0 });
      const every = g.op("Expand", [g.unsqueeze(condition, [0]), shape]); // [T, B, C]
      xs = g.op("Concat", [xs, every], { axis: 2 }); // [T, B, E + C]
    }
  }
  const rnn = recurrentGraph(g, model.rnn, xs, {
    h0: stateOrDefault(g, h0, start, batch),
    c0: c0 ? stateOrDefault(g, c0, zeros, batch) : undefined,
  });
  const outputs = g.transpose(rnn.outputs, [1, 0, 2]); // [B, T, H]
  const logits = denseGraph(g, outputs, model.output.kernel, model.output.bias, 3, "out");
  g.output(logits, "logits", "float", ["B", "T", V]);
  g.output(rnn.h, "hn", "float", [L, "B", H]);
  if (rnn.c) g.output(rnn.c, "cn", "float", [L, "B", H]);
  return g.model("generator", metadata);
}
