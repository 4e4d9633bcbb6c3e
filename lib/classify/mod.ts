/**
 * N vs 1: the sequence classifier over labelled text, its metrics and plots.
 *
 * @module
 */
export * from "./data.ts";
export * from "./evaluate.ts";
export * from "./metrics.ts";
export * from "./model.ts";
export * from "./plot.ts";
export * from "./run.ts";
