/**
 * Backend-aware tensor helpers below every model folder: a matmul whose
 * gradient avoids wasm's slow transposed products, a broadcast without
 * Tile, a `tidy` for records, and shape checks with the project's messages.
 *
 * @module
 */
export * from "./broadcast.ts";
export * from "./matmul.ts";
export * from "./shape.ts";
export * from "./tidy.ts";
export * from "./tensors.ts";
export * from "./time_major.ts";
