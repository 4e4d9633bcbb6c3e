/**
 * The encoder-decoder as two ONNX graphs; beam or greedy search stays in
 * the caller, as in every runtime.
 *
 * - encoder: `source` int64 `[B, S]` and `source_lengths` int32 `[B]` to
 *   `memory` `[B, S, Hd]` (the encoder outputs, batch-major), the decoder's
 *   initial state `h0` (`c0`) `[layers, B, Hd]` and `context` `[B, Hd]`;
 * - decoder, one step: `token` int64 `[B]` (the previous target token,
 *   `<bos>` first), the state `h` (`c`), and `context` (attention "none") or
 *   `memory` and `source_lengths` (attention) to `logits` `[B, Vt]`, `hn`
 *   (`cn`) and, with attention, `weights` `[B, S]`.
 *
 * @module
 */
import type { Seq2Seq } from "../seq2seq/model.ts";
import { hasCellState } from "../cells/registry.ts";
import { GraphBuilder } from "./_graph.ts";
import { denseGraph, gatherRows, maskOut, stepMask } from "./_onnx_parts.ts";
import { recurrentGraph } from "./_recurrent.ts";
import type { OnnxModel } from "./onnx_proto.ts";

/** The encoder graph. */
export function encoderGraph(model: Seq2Seq, metadata: Record<string, string>): OnnxModel {
  const g = new GraphBuilder();
  const { layers: L, cell, bidirectional } = model.config;
  const Hd = model.decoderWidth;
  const source = g.input("source", "int64", ["B", "S"]);
  const lengths = g.input("source_lengths", "int32", ["B"]);
  const embedded = gatherRows(
    g,
    model.sourceEmbedding.table,
    g.transpose(source, [1, 0]),
    "source",
  );
  const rnn = recurrentGraph(g, model.encoder, embedded, { lengths }); // [S, B, Hd]
  // Each decoder layer starts from its encoder layer's directions concatenated: [1, B, Hd].
  const bridge = (states: string[]) => {
    const layers = states.map((s) =>
      bidirectional ? g.unsqueeze(g.reshape(g.transpose(s, [1, 0, 2]), [0, -1]), [0]) : s
    );
    return layers.length === 1 ? layers[0] : g.op("Concat", layers, { axis: 0 });
  };
  const h0 = bridge(rnn.layerH);
  g.output(g.transpose(rnn.outputs, [1, 0, 2]), "memory", "float", ["B", "S", Hd]);
  g.output(h0, "h0", "float", [L, "B", Hd]);
  if (hasCellState(cell)) g.output(bridge(rnn.layerC!), "c0", "float", [L, "B", Hd]);
  const top = g.op("Squeeze", [g.slice(h0, 0, L - 1, L), g.ints("axes", [0])]);
  g.output(top, "context", "float", ["B", Hd]);
  return g.model("seq2seq_encoder", metadata);
}

/** Attention of the top state `query` `[B, Hd]` over the memory: context `[B, Hd]`, weights `[B, S]`. */
function attentionGraph(
  g: GraphBuilder,
  model: Seq2Seq,
  query: string,
  memory: string,
  lengths: string,
): { context: string; weights: string } {
  const Hd = model.decoderWidth;
  let scores: string; // [B, S]
  if (model.attention) {
    const w = model.attention;
    const q = g.unsqueeze(denseGraph(g, query, w.W_q, undefined, 2, "W_q"), [1]); // [B, 1, h]
    const k = denseGraph(g, memory, w.W_k, undefined, 3, "W_k"); // [B, S, h]
    const features = g.op("Tanh", [g.op("Add", [q, k])]); // [B, S, h]
    const v = denseGraph(g, features, w.w_v, undefined, 3, "w_v"); // [B, S, 1]
    scores = g.op("Squeeze", [v, g.ints("axes", [2])]);
  } else {
    const dot = g.op("MatMul", [memory, g.unsqueeze(query, [2])]); // [B, S, 1]
    const scaled = g.op("Div", [dot, g.floats("sqrt_d", [], [Math.sqrt(Hd)])]);
    scores = g.op("Squeeze", [scaled, g.ints("axes", [2])]);
  }
  const mask = g.transpose(stepMask(g, lengths, g.dim(memory, 1)), [1, 0]); // [B, S]
  const softmax = g.op("Softmax", [maskOut(g, scores, mask)], { axis: -1 });
  const weights = g.op("Mul", [softmax, mask]); // zero on padded keys, as ours
  const context = g.op("MatMul", [g.unsqueeze(weights, [1]), memory]); // [B, 1, Hd]
  return { context: g.op("Squeeze", [context, g.ints("axes", [1])]), weights };
}

/** The one-step decoder graph. */
export function decoderGraph(model: Seq2Seq, metadata: Record<string, string>): OnnxModel {
  const g = new GraphBuilder();
  const { layers: L, cell, attention, targetVocabSize: V } = model.config;
  const Hd = model.decoderWidth;
  const token = g.input("token", "int64", ["B"]);
  const h = g.input("h", "float", [L, "B", Hd]);
  const c = hasCellState(cell) ? g.input("c", "float", [L, "B", Hd]) : undefined;
  const embedded = gatherRows(g, model.targetEmbedding.table, token, "target"); // [B, E]
  let x: string, weights: string | undefined;
  if (attention === "none") {
    const context = g.input("context", "float", ["B", Hd]);
    x = g.op("Concat", [embedded, context], { axis: 1 }); // [B, E + Hd]
  } else {
    const memory = g.input("memory", "float", ["B", "S", Hd]);
    const lengths = g.input("source_lengths", "int32", ["B"]);
    const query = g.op("Squeeze", [g.slice(h, 0, L - 1, L), g.ints("axes", [0])]); // [B, Hd]
    const attended = attentionGraph(g, model, query, memory, lengths);
    weights = attended.weights;
    x = g.op("Concat", [attended.context, embedded], { axis: 1 }); // [B, Hd + E]
  }
  const rnn = recurrentGraph(g, model.decoder, g.unsqueeze(x, [0]), { h0: h, c0: c });
  const top = g.op("Squeeze", [rnn.outputs, g.ints("axes", [0])]); // [B, Hd]
  const logits = denseGraph(g, top, model.output.kernel, model.output.bias, 2, "out");
  g.output(logits, "logits", "float", ["B", V]);
  g.output(rnn.h, "hn", "float", [L, "B", Hd]);
  if (rnn.c) g.output(rnn.c, "cn", "float", [L, "B", Hd]);
  if (weights) g.output(weights, "weights", "float", ["B", "S"]);
  return g.model("seq2seq_decoder", metadata);
}
