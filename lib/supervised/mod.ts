/**
 * Supervised data: examples that carry their target. Labelled text (a folder
 * of `<label>.txt` files, stratified splits, length-bucketed batches) for the
 * classifier and the conditioned generator, and sentence pairs (source and
 * target, their vocabularies) for translation.
 *
 * @module
 */
export * from "./labelled.ts";
export * from "./labelled_set.ts";
export * from "./pairs.ts";
