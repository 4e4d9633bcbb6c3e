/**
 * Cells: pure step math, one file per kind, the registry of kinds, and the
 * checks and PyTorch layouts every kind shares.
 *
 * @module
 */
export * from "./definition.ts";
export * from "./types.ts";
export * from "./registry.ts";
export * from "./spec.ts";
export * from "./step.ts";
export * from "./state.ts";
export * from "./init.ts";
export * from "./torch.ts";
export * from "./rnn.ts";
export * from "./gru.ts";
export * from "./lstm.ts";
export * from "./lnlstm.ts";
