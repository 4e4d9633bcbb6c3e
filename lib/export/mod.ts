/**
 * Export to ONNX and safetensors, and loading PyTorch state dicts back.
 *
 * @module
 */
export * from "./export.ts";
export * from "./load.ts";
export * from "./metadata.ts";
export * from "./onnx.ts";
export * from "./onnx_proto.ts";
export * from "./safetensors.ts";
export * from "./state_dict.ts";
