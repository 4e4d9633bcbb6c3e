/**
 * The subset of the ONNX protobuf schema an exporter needs (model, graph,
 * node, attribute, tensor, value info, type, shape, opset and metadata
 * entries), declared here from the field numbers of the ONNX IR
 * specification and encoded by protobufjs: no varints written by hand.
 *
 * Only what we write is declared; a reader that meets fields we leave out
 * (e.g. sparse tensors, training info) still parses our files, as protobuf
 * is forward compatible.
 *
 * @module
 */
import protobuf from "npm:protobufjs@8.8.1/light.js";

/** ONNX `TensorProto.DataType` values we write. */
export const ONNX_TYPES = { float: 1, int32: 6, int64: 7, bool: 9 } as const;

/** An ONNX element type by name. */
export type OnnxType = keyof typeof ONNX_TYPES;

/** ONNX `AttributeProto.AttributeType` values we write. */
export const ATTRIBUTE_TYPES = { float: 1, int: 2, string: 3, floats: 6, ints: 7, strings: 8 };

/** The schema as protobufjs JSON descriptors: names and field numbers from the ONNX spec. */
const SCHEMA = {
  nested: {
    onnx: {
      nested: {
        StringStringEntryProto: {
          fields: { key: { type: "string", id: 1 }, value: { type: "string", id: 2 } },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: "string", id: 1 }, version: { type: "int64", id: 2 } },
        },
        TensorProto: {
          fields: {
            dims: { rule: "repeated", type: "int64", id: 1 },
            dataType: { type: "int32", id: 2 },
            name: { type: "string", id: 8 },
            rawData: { type: "bytes", id: 9 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: "string", id: 1 },
            f: { type: "float", id: 2 },
            i: { type: "int64", id: 3 },
            s: { type: "bytes", id: 4 },
            floats: { rule: "repeated", type: "float", id: 7 },
            ints: { rule: "repeated", type: "int64", id: 8 },
            strings: { rule: "repeated", type: "bytes", id: 9 },
            type: { type: "int32", id: 20 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: "repeated", type: "string", id: 1 },
            output: { rule: "repeated", type: "string", id: 2 },
            name: { type: "string", id: 3 },
            opType: { type: "string", id: 4 },
            attribute: { rule: "repeated", type: "AttributeProto", id: 5 },
            domain: { type: "string", id: 7 },
          },
        },
        Dimension: {
          fields: { dimValue: { type: "int64", id: 1 }, dimParam: { type: "string", id: 2 } },
        },
        TensorShapeProto: { fields: { dim: { rule: "repeated", type: "Dimension", id: 1 } } },
        TensorTypeProto: {
          fields: {
            elemType: { type: "int32", id: 1 },
            shape: { type: "TensorShapeProto", id: 2 },
          },
        },
        TypeProto: { fields: { tensorType: { type: "TensorTypeProto", id: 1 } } },
        ValueInfoProto: {
          fields: { name: { type: "string", id: 1 }, type: { type: "TypeProto", id: 2 } },
        },
        GraphProto: {
          fields: {
            node: { rule: "repeated", type: "NodeProto", id: 1 },
            name: { type: "string", id: 2 },
            initializer: { rule: "repeated", type: "TensorProto", id: 5 },
            docString: { type: "string", id: 10 },
            input: { rule: "repeated", type: "ValueInfoProto", id: 11 },
            output: { rule: "repeated", type: "ValueInfoProto", id: 12 },
          },
        },
        ModelProto: {
          fields: {
            irVersion: { type: "int64", id: 1 },
            producerName: { type: "string", id: 2 },
            producerVersion: { type: "string", id: 3 },
            docString: { type: "string", id: 6 },
            graph: { type: "GraphProto", id: 7 },
            opsetImport: { rule: "repeated", type: "OperatorSetIdProto", id: 8 },
            metadataProps: { rule: "repeated", type: "StringStringEntryProto", id: 14 },
          },
        },
      },
    },
  },
};

const ROOT = protobuf.Root.fromJSON(SCHEMA);
const MODEL = ROOT.lookupType("onnx.ModelProto");

/** One dimension of a declared shape: a size, or a name for a dynamic axis (`"B"`). */
export type Dim = number | string;

/** A graph input or output as declared: name, element type, shape. */
export interface ValueInfo {
  /** The value's name in the graph. */
  name: string;
  /** Its element type. */
  type: OnnxType;
  /** Its shape: sizes, or names for dynamic axes. */
  shape: Dim[];
}

/** An attribute value: a number is written as an int unless listed in `floats`. */
export type AttributeValue = number | string | number[] | string[] | { float: number } | {
  floats: number[];
};

/** One node of a graph. */
export interface OnnxNode {
  /** The ONNX operator (`LSTM`, `MatMul`, ...). */
  opType: string;
  /** Names of the input values. */
  inputs: string[];
  /** Names of the output values. */
  outputs: string[];
  /** The node's name. */
  name: string;
  /** The operator's attributes by name. */
  attributes?: Record<string, AttributeValue>;
}

/** A constant tensor (an initializer): its name, type, shape and values. */
export interface OnnxTensor {
  /** The initializer's name. */
  name: string;
  /** Its element type. */
  type: OnnxType;
  /** Its shape. */
  dims: number[];
  /** Values in row-major order. */
  values: Float32Array | Int32Array | BigInt64Array | Uint8Array;
}

/** Everything a model file holds, in plain terms. */
export interface OnnxModel {
  /** The graph's name. */
  graphName: string;
  /** The operators, in topological order. */
  nodes: OnnxNode[];
  /** The weights. */
  initializers: OnnxTensor[];
  /** The graph's inputs. */
  inputs: ValueInfo[];
  /** The graph's outputs. */
  outputs: ValueInfo[];
  /** `metadata_props`, written in key order as given. */
  metadata: Record<string, string>;
  /** The default domain's opset. @default 17 */
  opset?: number;
}

/** ONNX IR version 8 goes with opset 17 (onnx 1.12). */
const IR_VERSION = 8;

function attribute(name: string, value: AttributeValue): Record<string, unknown> {
  const text = (s: string) => new TextEncoder().encode(s);
  if (typeof value === "number") return { name, type: ATTRIBUTE_TYPES.int, i: value };
  if (typeof value === "string") return { name, type: ATTRIBUTE_TYPES.string, s: text(value) };
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === "string")) {
      return { name, type: ATTRIBUTE_TYPES.strings, strings: (value as string[]).map(text) };
    }
    return { name, type: ATTRIBUTE_TYPES.ints, ints: value };
  }
  if ("float" in value) return { name, type: ATTRIBUTE_TYPES.float, f: value.float };
  return { name, type: ATTRIBUTE_TYPES.floats, floats: value.floats };
}

function valueInfo(info: ValueInfo): Record<string, unknown> {
  const dim = info.shape.map((d) => typeof d === "number" ? { dimValue: d } : { dimParam: d });
  return {
    name: info.name,
    type: { tensorType: { elemType: ONNX_TYPES[info.type], shape: { dim } } },
  };
}

function tensor(t: OnnxTensor): Record<string, unknown> {
  // Raw little-endian bytes (every platform Deno runs on is little-endian).
  const raw = new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength);
  return { name: t.name, dataType: ONNX_TYPES[t.type], dims: t.dims, rawData: raw };
}

/**
 * Encodes a model as ONNX protobuf bytes (IR version 8, opset 17 unless given).
 *
 * @example A one-node model
 * ```ts
 * import { ok } from "node:assert";
 * const bytes = encodeOnnxModel({
 *   graphName: "relu",
 *   nodes: [{ opType: "Relu", inputs: ["x"], outputs: ["y"], name: "relu" }],
 *   initializers: [],
 *   inputs: [{ name: "x", type: "float", shape: ["B", 3] }],
 *   outputs: [{ name: "y", type: "float", shape: ["B", 3] }],
 *   metadata: { kind: "example" },
 * });
 * ok(bytes.length > 30);
 * ```
 */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const message = MODEL.fromObject({
    irVersion: IR_VERSION,
    producerName: "rnn-deno",
    producerVersion: "1",
    opsetImport: [{ domain: "", version: model.opset ?? 17 }],
    metadataProps: Object.entries(model.metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: model.graphName,
      node: model.nodes.map((n) => ({
        input: n.inputs,
        output: n.outputs,
        name: n.name,
        opType: n.opType,
        domain: "",
        attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      initializer: model.initializers.map(tensor),
      input: model.inputs.map(valueInfo),
      output: model.outputs.map(valueInfo),
    },
  });
  return MODEL.encode(message).finish();
}

/**
 * Reads back the `metadata_props` of ONNX bytes (what a user tokenizes with).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const bytes = encodeOnnxModel({
 *   graphName: "g", nodes: [], initializers: [], inputs: [], outputs: [], metadata: { kind: "lm" },
 * });
 * strictEqual(readOnnxMetadata(bytes).kind, "lm");
 * ```
 */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const decoded = MODEL.toObject(MODEL.decode(bytes)) as {
    metadataProps?: { key: string; value: string }[];
  };
  return Object.fromEntries((decoded.metadataProps ?? []).map((e) => [e.key, e.value]));
}
