/**
 * Flags that several task scripts share, declared once so their names, types
 * and help read the same everywhere.
 *
 * @module
 */
import { BACKEND_REQUESTS } from "../lib/tf.ts";

/** `--backend auto|webgpu|wasm|cpu`. */
export const BACKEND_FLAG = {
  name: "backend",
  type: "choice",
  choices: BACKEND_REQUESTS,
  default: "auto",
  help: "tfjs backend: auto picks webgpu on a real GPU, else wasm.",
} as const;

/** `--json`: machine-readable output. */
export const JSON_FLAG = {
  name: "json",
  type: "boolean",
  help: "Print one JSON object per line on stdout and nothing else.",
} as const;

/** `--checkpoint DIR`: a run directory or a checkpoint directory. */
export const CHECKPOINT_FLAG = {
  name: "checkpoint",
  type: "string",
  default: "runs/last",
  help: "Run or checkpoint directory.",
} as const;
