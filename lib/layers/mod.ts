/**
 * Layers: cell objects, sequence runner (lengths, masks), deep and
 * bidirectional stacks, embedding, dense, dropout, attention.
 *
 * @module
 */
export * from "./cell.ts";
export * from "./sequence.ts";
export * from "./lengths.ts";
export * from "./stack.ts";
export * from "./embedding.ts";
export * from "./dense.ts";
export * from "./dropout.ts";
export * from "./attention.ts";
