/**
 * Types shared by every cell kind, and the registry's kind lists: one import
 * for the records (`definition.ts`) and the kinds (`registry.ts`).
 *
 * @module
 */
export type {
  CellDefinition,
  CellParameter,
  CellSpec,
  FusedVariables,
  FusedWeights,
  NamedWeights,
  Nonlinearity,
  SequenceResult,
  State,
  TorchMapping,
} from "./definition.ts";
export { CELL_KINDS, type CellKind, GATE_BLOCKS, GATE_COUNT } from "./registry.ts";
