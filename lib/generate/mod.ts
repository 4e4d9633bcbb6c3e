/**
 * 1 vs N: the generator conditioned on a label, its batches, evaluation and
 * sampling.
 *
 * @module
 */
export * from "./data.ts";
export * from "./evaluate.ts";
export * from "./model.ts";
export * from "./run.ts";
export * from "./sample.ts";
