/**
 * Kernels: whole sequences as single differentiable ops (tf-ops, WGSL,
 * native C), the backend x kind table that picks one, and the other fused
 * ops (linear, gather rows, softmax cross-entropy, the two as one, additive attention,
 * Adam), and on native the length masks and the whole attention decoder.
 *
 * @module
 */
export * from "./adam_update.ts";
export * from "./additive_attention.ts";
export * from "./attention_decoder.ts";
export * from "./dropout_mask.ts";
export * from "./fused_sequence.ts";
export * from "./gather_rows.ts";
export * from "./length_mask.ts";
export * from "./linear.ts";
export * from "./linear_cross_entropy.ts";
export * from "./sgd_update.ts";
export * from "./softmax_cross_entropy.ts";
export * from "./sum_squares.ts";
export * from "./table.ts";
export * from "./webgpu/sequence.ts";
