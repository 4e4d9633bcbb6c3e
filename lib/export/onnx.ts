/**
 * A model as ONNX files (opset 17, standard operators only): the `LSTM`,
 * `GRU` and `RNN` operators with `sequence_lens`, `Gather` for embeddings,
 * `Gemm`/`MatMul` for dense layers, dynamic batch and time axes, and the
 * metadata a user tokenizes with in `metadata_props`.
 *
 * | kind | files | inputs -> outputs |
 * |---|---|---|
 * | classifier | `model.onnx` | `ids` int64 [B,T], `lengths` int32 [B] -> `probabilities` [B,L] |
 * | lm | `model.onnx` | `ids` int64 [B,T], `h0` (`c0`) [layers*dirs,B,H] -> `logits` [B,T,V], `hn` (`cn`) |
 * | generator | `model.onnx` | `ids` int64 [B,T], `conditions` int64 [B], `h0` (`c0`) -> `logits`, `hn` (`cn`) |
 * | seq2seq | `encoder.onnx`, `decoder.onnx` | see lib/export/_onnx_seq2seq.ts |
 *
 * A state input given with batch size 0 (`[layers*dirs, 0, H]`) means the
 * default start (zeros; a generator's condition state). ONNX has no optional
 * graph inputs that onnxruntime-web lets a caller override, hence the
 * empty tensor.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { LanguageModel } from "../lm/model.ts";
import { SequenceClassifier } from "../classify/model.ts";
import { ConditionedGenerator } from "../generate/model.ts";
import type { ExportableModel } from "./load.ts";
import { encodeOnnxModel } from "./onnx_proto.ts";
import { classifierGraph } from "./_onnx_classifier.ts";
import { lmGraph } from "./_onnx_lm.ts";
import { generatorGraph } from "./_onnx_generator.ts";
import { decoderGraph, encoderGraph } from "./_onnx_seq2seq.ts";
import { Seq2Seq } from "../seq2seq/model.ts";

/**
 * The ONNX files of a model by file name, with `metadata` in each file's
 * `metadata_props` (seq2seq's also get `graph`: `encoder` or `decoder`).
 *
 * @example A classifier is one file
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { classifierConfig, SequenceClassifier } from "../classify/model.ts";
 * const model = new SequenceClassifier(classifierConfig({ vocabSize: 6, numLabels: 2, hiddenSize: 3 }));
 * deepStrictEqual(Object.keys(onnxFiles(model, { kind: "classifier" })), ["model.onnx"]);
 * model.dispose();
 * ```
 */
export function onnxFiles(
  model: ExportableModel,
  metadata: Record<string, string>,
): Record<string, Uint8Array> {
  if (model instanceof SequenceClassifier) {
    return { "model.onnx": encodeOnnxModel(classifierGraph(model, metadata)) };
  }
  if (model instanceof LanguageModel) {
    return { "model.onnx": encodeOnnxModel(lmGraph(model, metadata)) };
  }
  if (model instanceof ConditionedGenerator) {
    return { "model.onnx": encodeOnnxModel(generatorGraph(model, metadata)) };
  }
  if (model instanceof Seq2Seq) {
    return {
      "encoder.onnx": encodeOnnxModel(encoderGraph(model, { ...metadata, graph: "encoder" })),
      "decoder.onnx": encodeOnnxModel(decoderGraph(model, { ...metadata, graph: "decoder" })),
    };
  }
  throw new UsageError(
    `Cannot export to ONNX: unknown model kind "${(model as { kind: string }).kind}"`,
  );
}
