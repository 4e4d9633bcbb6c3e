/**
 * Flags that several task scripts share, declared once so their names, types
 * and help read the same everywhere.
 *
 * @module
 */
import { BACKEND_REQUESTS } from "../lib/tf.ts";
import { nonNegative, nonNegativeInteger, positiveInteger } from "./_cli.ts";
import { LR_SCHEDULES } from "../lib/training/schedule.ts";

/** `--backend auto|webgpu|native|wasm|cpu`. */
export const BACKEND_FLAG = {
  name: "backend",
  type: "choice",
  choices: BACKEND_REQUESTS,
  default: "auto",
  help: "tfjs backend: auto picks webgpu on a real GPU, else native (C compiler), else wasm.",
} as const;

/** `--threads N`: the native backend's threads (0: the cores available). */
export const THREADS_FLAG = {
  name: "threads",
  type: "integer",
  default: 0,
  validate: nonNegativeInteger,
  help: "Threads of the native backend's kernels (0: the cores available).",
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

/** `--which best|last`: a run directory's best-on-validation or last checkpoint. */
export const WHICH_FLAG = {
  name: "which",
  type: "choice",
  choices: ["best", "last"],
  default: "best",
  help: "A run directory's best checkpoint (on validation; the last when it has none) or its last.",
} as const;

/** `--batch-size B`: sequences per minibatch (d2l's 32). */
export const BATCH_SIZE_FLAG = {
  name: "batch-size",
  type: "integer",
  default: 32,
  validate: positiveInteger,
  help: "Sequences per minibatch.",
} as const;

/** `--num-steps T`: time steps per sequence (d2l's 35). */
export const NUM_STEPS_FLAG = {
  name: "num-steps",
  type: "integer",
  default: 35,
  validate: positiveInteger,
  help: "Time steps per sequence.",
} as const;

/**
 * What every training task adds to its optimiser: a learning-rate schedule
 * with warmup, weight decay, and checkpoints inside an epoch.
 */
export const LOOP_FLAGS = [
  {
    name: "lr-schedule",
    type: "choice",
    choices: LR_SCHEDULES,
    default: "constant",
    help: "Learning rate over the run: constant; step (x0.1 at half the steps, x0.01 at three " +
      "quarters); cosine (down to 0).",
  },
  {
    name: "warmup-steps",
    type: "integer",
    default: 0,
    validate: nonNegativeInteger,
    help: "Raise the learning rate linearly over the first N steps.",
  },
  {
    name: "weight-decay",
    type: "number",
    default: 0,
    validate: nonNegative,
    help: "Weight decay: decoupled (AdamW) with adam, plain L2 regularisation with sgd.",
  },
  {
    name: "checkpoint-every",
    type: "integer",
    default: 0,
    validate: nonNegativeInteger,
    help: "Also save the checkpoint every N steps inside an epoch; 0: after each epoch only.",
  },
] as const;
