/**
 * The classifier's ONNX graph: `ids` int64 `[B, T]` (padding past each
 * length) and `lengths` int32 `[B]` to `probabilities` float32 `[B, L]`.
 *
 * @module
 */
import type { SequenceClassifier } from "../classify/model.ts";
import { GraphBuilder } from "./_graph.ts";
import { denseGraph, gatherRows, maskOut, stepMask } from "./_onnx_parts.ts";
import { recurrentGraph } from "./_recurrent.ts";
import type { OnnxModel } from "./onnx_proto.ts";

/** The graph of a classifier, with the metadata given. */
export function classifierGraph(
  model: SequenceClassifier,
  metadata: Record<string, string>,
): OnnxModel {
  const g = new GraphBuilder();
  const { numLabels: L, head } = model.config;
  const ids = g.input("ids", "int64", ["B", "T"]);
  const lengths = g.input("lengths", "int32", ["B"]);
  const embedded = gatherRows(g, model.embedding.table, ids, "embedding"); // [B, T, E]
  const xs = g.transpose(embedded, [1, 0, 2]); // [T, B, E]
  const rnn = recurrentGraph(g, model.rnn, xs, { lengths });
  let vector: string; // [B, H * dirs]
  if (head === "last") {
    const last = rnn.layerH[rnn.layerH.length - 1]; // [dirs, B, H]
    vector = g.reshape(g.transpose(last, [1, 0, 2]), [0, -1]); // [B, dirs * H]
  } else {
    const mask = g.unsqueeze(stepMask(g, lengths, g.dim(ids, 1)), [2]); // [T, B, 1]
    const masked = g.op("Mul", [rnn.outputs, mask]); // [T, B, W]
    if (head === "mean") {
      const sum = g.op("ReduceSum", [masked, g.ints("axes", [0])], { keepdims: 0 }); // [B, W]
      const count = g.unsqueeze(g.op("Cast", [lengths], { to: 1 }), [1]); // [B, 1]
      vector = g.op("Div", [sum, count]);
    } else {
      // Padding steps get -1e9 so they never win, as in our forward.
      vector = g.op("ReduceMax", [maskOut(g, rnn.outputs, mask)], { axes: [0], keepdims: 0 });
    }
  }
  const logits = denseGraph(g, vector, model.output.kernel, model.output.bias, 2, "out");
  g.output(g.op("Softmax", [logits], { axis: -1 }), "probabilities", "float", ["B", L]);
  return g.model("classifier", metadata);
}
