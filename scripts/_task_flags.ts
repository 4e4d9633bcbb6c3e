/**
 * The flags every task script shares, declared once so their names, types
 * and help read the same everywhere: the backend and threads, `--json`, the
 * checkpoint to read, and the training flags of the four training tasks
 * (`train`, `classify`, `generate`, `translate`), with the rules of
 * `--resume` and `--overwrite`.
 *
 * @module
 */
import { BACKEND_REQUESTS } from "../lib/tf.ts";
import {
  type FlagSpec,
  type FlagValue,
  inRange,
  nonEmpty,
  nonNegative,
  nonNegativeInteger,
  positive,
  positiveInteger,
} from "./_cli.ts";
import { UsageError } from "../lib/errors.ts";
import { INIT_NAMES } from "../lib/cells/init.ts";
import { OPTIMIZERS } from "../lib/training/train.ts";
import { NON_FINITE_POLICIES } from "../lib/training/fit.ts";
import type { DecodeOptions } from "../lib/decoding/token_choice.ts";
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

/**
 * The training flags of every training task: epochs, optimiser, clipping,
 * early stopping, the loop's schedule and checkpoints, the seed, what a
 * non-finite loss does, and the run directory's `--overwrite`/`--resume`.
 * A task changes a default with {@linkcode withDefaults}.
 */
export const TRAINING_FLAGS = [
  {
    name: "epochs",
    type: "integer",
    default: 10,
    validate: positiveInteger,
    help: "Passes over the training split in all (with --resume: the new total).",
  },
  {
    name: "batch-size",
    type: "integer",
    default: 64,
    validate: positiveInteger,
    help: "Sequences per minibatch (labelled ones bucketed by length).",
  },
  { name: "optimizer", type: "choice", choices: OPTIMIZERS, default: "adam", help: "Optimizer." },
  { name: "lr", type: "number", default: 0.003, validate: positive, help: "Learning rate." },
  {
    name: "clip",
    type: "number",
    default: 1,
    validate: nonNegative,
    help: "Largest global gradient norm; 0 disables.",
  },
  {
    name: "patience",
    type: "integer",
    default: 3,
    validate: nonNegativeInteger,
    help: "Stop after this many epochs without a better validation score (early stopping); " +
      "0 never.",
  },
  ...LOOP_FLAGS,
  { name: "seed", type: "integer", default: 0, help: "Seed of weights, split, batches, samples." },
  {
    name: "on-nan",
    type: "choice",
    choices: NON_FINITE_POLICIES,
    default: "stop",
    help:
      "A NaN/Inf loss or gradient: stop (keep the last checkpoint) or skip the step and halve the lr.",
  },
  {
    name: "overwrite",
    type: "boolean",
    help: "Replace the run already in --out (kept until this run's first checkpoint).",
  },
  {
    name: "resume",
    type: "string",
    valueName: "<dir>",
    validate: nonEmpty,
    help: "Continue the run in this directory (settings come from its checkpoint; it trains to " +
      "the run's own total epochs unless --epochs gives a new one).",
  },
] as const;

/** `--init`: the weight initialiser of a model whose config has one. */
export const INIT_FLAG = {
  name: "init",
  type: "choice",
  choices: INIT_NAMES,
  default: "xavier",
  help: "Weight initialiser.",
} as const;

/**
 * The same flags with other defaults (by flag name); types and checks stay.
 *
 * @example
 * ```ts
 * const flags = withDefaults(TRAINING_FLAGS, { epochs: 30 });
 * ```
 */
export function withDefaults<const T extends readonly FlagSpec[]>(
  table: T,
  defaults: Record<string, FlagValue>,
): T;
export function withDefaults(
  table: readonly FlagSpec[],
  defaults: Record<string, FlagValue>,
): readonly FlagSpec[] {
  // The overload above keeps each flag's literal type: only defaults change, never a type.
  return table.map((spec) =>
    spec.name in defaults ? { ...spec, default: defaults[spec.name] } : spec
  );
}

/** The run directory mode from the flags. */
export function runMode(
  flags: { resume?: string; overwrite: boolean },
): "resume" | "overwrite" | "new" {
  return flags.resume !== undefined ? "resume" : flags.overwrite ? "overwrite" : "new";
}

/**
 * The flags that `--resume` takes anew: how long to go on, where it runs, how
 * it reports, and what a NaN does. The checkpoint fixes every other setting.
 */
export const RESUME_FREE_FLAGS: readonly string[] = [
  "resume",
  "epochs",
  "patience",
  "checkpoint-every",
  "on-nan",
  "backend",
  "threads",
  "json",
];

/**
 * Refuses, beside `--resume`, a flag whose setting the checkpoint fixes
 * (sizes, data, split): only {@linkcode RESUME_FREE_FLAGS} and the task's
 * own `allowed` (e.g. how it samples after training) may be given.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert";
 * checkResume(["--resume", "runs/x", "--epochs", "5"], []);
 * throws(() => checkResume(["--resume", "runs/x", "--hidden-size", "8"], []));
 * ```
 */
export function checkResume(args: readonly string[], allowed: readonly string[]): void {
  if (!args.some((a) => a === "--resume" || a.startsWith("--resume="))) return;
  const given = args.filter((a) => a.startsWith("--")).map((a) => a.slice(2).split("=")[0]);
  const free = [...RESUME_FREE_FLAGS, ...allowed];
  const fixed = given.find((name) => !free.includes(name));
  if (fixed !== undefined) {
    throw new UsageError(
      `Cannot resume with --${fixed}: the checkpoint fixes it, expected only ${
        free.slice(1).map((a) => `--${a}`).join(", ")
      } beside --resume`,
    );
  }
}

/**
 * How a generating task picks each token: `--greedy`, or sampled with
 * `--temperature`, `--top-k` and `--top-p` (see {@linkcode decodeSettings}).
 */
export const DECODE_FLAGS = [
  { name: "greedy", type: "boolean", help: "Always take the most likely token." },
  {
    name: "temperature",
    type: "number",
    default: 1,
    validate: positive,
    help: "Divides the logits; < 1 is more conservative.",
  },
  {
    name: "top-k",
    type: "integer",
    default: 0,
    validate: nonNegativeInteger,
    help: "Sample among the k most likely tokens; 0 for all.",
  },
  {
    name: "top-p",
    type: "number",
    default: 1,
    validate: inRange(0, 1, { loOpen: true }),
    help: "Sample from the smallest set of tokens with this much probability.",
  },
] as const;

/**
 * The decode options of {@linkcode DECODE_FLAGS}, refusing `--greedy` beside
 * a sampling flag (greedy would silently ignore it).
 *
 * @throws {UsageError} naming the flags given together.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert";
 * throws(() => decodeSettings({ greedy: true, temperature: 0.5, topK: 0, topP: 1 }), /--greedy and --temperature 0.5/);
 * ```
 */
export function decodeSettings(
  flags: { greedy: boolean; temperature: number; topK: number; topP: number },
): DecodeOptions {
  const { greedy, temperature, topK, topP } = flags;
  const given = [
    temperature !== 1 && `--temperature ${temperature}`,
    topK !== 0 && `--top-k ${topK}`,
    topP !== 1 && `--top-p ${topP}`,
  ].filter(Boolean);
  if (greedy && given.length > 0) {
    throw new UsageError(
      `Cannot sample with --greedy and ${given.join(" and ")}: greedy always takes the most ` +
        "likely token, expected --greedy or the sampling flags",
    );
  }
  return { greedy, temperature, topK, topP };
}
