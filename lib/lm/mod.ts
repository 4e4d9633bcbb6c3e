/**
 * N vs N: the character/word language model, its training fit, perplexity and
 * sampling.
 *
 * @module
 */
export * from "./data.ts";
export * from "./evaluate.ts";
export * from "./fit.ts";
export * from "./memory.ts";
export * from "./model.ts";
export * from "./run.ts";
export * from "./sample.ts";
