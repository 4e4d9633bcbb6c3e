/**
 * A small builder of ONNX graphs: each method adds one node (or constant)
 * and returns the name of its output, so graph code reads like the
 * arithmetic it exports.
 *
 * @module
 */
import type {
  AttributeValue,
  OnnxModel,
  OnnxNode,
  OnnxTensor,
  OnnxType,
  ValueInfo,
} from "./onnx_proto.ts";

/** Accumulates nodes and initializers under unique names. */
export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  #count = 0;

  /** A fresh name with a readable stem. */
  fresh(stem: string): string {
    return `${stem}_${this.#count++}`;
  }

  /** Declares a graph input; returns its name. */
  input(name: string, type: OnnxType, shape: (number | string)[]): string {
    this.inputs.push({ name, type, shape });
    return name;
  }

  /** Declares `value` as the graph output `name` (through an Identity). */
  output(value: string, name: string, type: OnnxType, shape: (number | string)[]): void {
    this.op("Identity", [value], {}, name);
    this.outputs.push({ name, type, shape });
  }

  /** Adds a node with one output; returns its name. */
  op(
    opType: string,
    inputs: string[],
    attributes: Record<string, AttributeValue> = {},
    output?: string,
  ): string {
    const out = output ?? this.fresh(opType.toLowerCase());
    this.nodes.push({ opType, inputs, outputs: [out], name: `${opType}_${out}`, attributes });
    return out;
  }

  /** Adds a node with several outputs (`""` for one not wanted); returns their names. */
  multi(
    opType: string,
    inputs: string[],
    outputs: number,
    attributes: Record<string, AttributeValue> = {},
  ): string[] {
    const names = Array.from({ length: outputs }, (_, i) => this.fresh(`${opType}_${i}`));
    this.nodes.push({
      opType,
      inputs,
      outputs: names,
      name: this.fresh(opType),
      attributes,
    });
    return names;
  }

  /** A float32 constant; returns its name. */
  floats(stem: string, dims: number[], values: Float32Array | number[]): string {
    const name = this.fresh(stem);
    this.initializers.push({ name, type: "float", dims, values: Float32Array.from(values) });
    return name;
  }

  /** An int64 constant (shapes, axes, indices); returns its name. */
  ints(stem: string, values: number[], dims: number[] = [values.length]): string {
    const name = this.fresh(stem);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, type: "int64", dims, values: data });
    return name;
  }

  /** Dimension `axis` of `value`'s shape as an int64 `[1]`. */
  dim(value: string, axis: number): string {
    return this.op("Shape", [value], { start: axis, end: axis + 1 });
  }

  /** `Reshape(value, shape)` with a constant shape (0 copies, -1 infers). */
  reshape(value: string, shape: number[]): string {
    return this.op("Reshape", [value, this.ints("shape", shape)]);
  }

  /** `Transpose(value, perm)`. */
  transpose(value: string, perm: number[]): string {
    return this.op("Transpose", [value], { perm });
  }

  /** `Unsqueeze(value, axes)` (opset 13: axes as an input). */
  unsqueeze(value: string, axes: number[]): string {
    return this.op("Unsqueeze", [value, this.ints("axes", axes)]);
  }

  /** `Slice(value, [start], [end])` along one axis. */
  slice(value: string, axis: number, start: number | string, end: number | string): string {
    const bound = (v: number | string) => typeof v === "number" ? this.ints("at", [v]) : v;
    return this.op("Slice", [value, bound(start), bound(end), this.ints("axis", [axis])]);
  }

  /** Float zeros of a shape given as int64 `[rank]` (ConstantOfShape's default value). */
  zeros(shape: string): string {
    return this.op("ConstantOfShape", [shape]);
  }

  /** The whole model. */
  model(graphName: string, metadata: Record<string, string>): OnnxModel {
    return {
      graphName,
      nodes: this.nodes,
      initializers: this.initializers,
      inputs: this.inputs,
      outputs: this.outputs,
      metadata,
    };
  }
}
