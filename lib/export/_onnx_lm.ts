/**
 * The language model's ONNX graph: `ids` int64 `[B, T]` and the state `h0`
 * (`c0` for LSTM) `[layers * dirs, B, H]` to `logits` `[B, T, V]` and `hn`
 * (`cn`), so a caller streams one chunk after another. A state input with
 * batch size 0 (`[layers * dirs, 0, H]`) starts from zeros.
 *
 * @module
 */
import type { LanguageModel } from "../lm/model.ts";
import { hasCellState } from "../cells/registry.ts";
import { GraphBuilder } from "./_graph.ts";
import { denseGraph, gatherRows, stateOrDefault, zeroStates } from "./_onnx_parts.ts";
import { recurrentGraph } from "./_recurrent.ts";
import type { OnnxModel } from "./onnx_proto.ts";

/** The graph of a language model, with the metadata given. */
export function lmGraph(model: LanguageModel, metadata: Record<string, string>): OnnxModel {
  const g = new GraphBuilder();
  const { vocabSize: V, hiddenSize: H, layers, bidirectional, cell } = model.config;
  const N = layers * (bidirectional ? 2 : 1);
  const ids = g.input("ids", "int64", ["B", "T"]);
  const h0 = g.input("h0", "float", [N, "B0", H]);
  const c0 = hasCellState(cell) ? g.input("c0", "float", [N, "B0", H]) : undefined;
  const batch = g.dim(ids, 0);
  const zeros = zeroStates(g, N, batch, H);
  const idsT = g.transpose(ids, [1, 0]); // [T, B]
  const xs = model.embedding
    ? gatherRows(g, model.embedding.table, idsT, "embedding") // [T, B, E]
    : g.op("OneHot", [idsT, g.ints("depth", [V], []), g.floats("onoff", [2], [0, 1])], {
      axis: -1,
    }); // [T, B, V]
  const rnn = recurrentGraph(g, model.rnn, xs, {
    h0: stateOrDefault(g, h0, zeros, batch),
    c0: c0 ? stateOrDefault(g, c0, zeros, batch) : undefined,
  });
  const outputs = g.transpose(rnn.outputs, [1, 0, 2]); // [B, T, W]
  const logits = denseGraph(g, outputs, model.output.kernel, model.output.bias!, 3, "out");
  g.output(logits, "logits", "float", ["B", "T", V]);
  g.output(rnn.h, "hn", "float", [N, "B", H]);
  if (rnn.c) g.output(rnn.c, "cn", "float", [N, "B", H]);
  return g.model("lm", metadata);
}
