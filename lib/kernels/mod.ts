/**
 * Kernels: whole sequences as single differentiable ops (tf-ops, WGSL,
 * native C), the backend x kind table that picks one, and the other fused
 * ops (linear, gather rows, softmax cross-entropy, Adam).
 *
 * @module
 */
export * from "./fused_sequence.ts";
export * from "./table.ts";
export * from "./webgpu/sequence.ts";
export * from "./linear.ts";
export * from "./gather_rows.ts";
export * from "./softmax_cross_entropy.ts";
export * from "./adam_update.ts";
