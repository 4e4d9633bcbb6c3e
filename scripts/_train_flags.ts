/**
 * The flags of `deno task train` and what they mean: the table, the run
 * config a fresh run builds from them, and the check that `--resume` is not
 * given a flag the checkpoint fixes.
 *
 * @module
 */
import {
  defineFlags,
  type FlagValues,
  inRange,
  nonEmpty,
  nonNegativeInteger,
  positiveInteger,
} from "./_cli.ts";
import {
  BACKEND_FLAG,
  INIT_FLAG,
  JSON_FLAG,
  NUM_STEPS_FLAG,
  THREADS_FLAG,
  TRAINING_FLAGS,
  withDefaults,
} from "./_task_flags.ts";
import { givenFlag, loopSettings } from "./_loop.ts";
import { UsageError } from "../lib/errors.ts";
import { CELL_KINDS, type Nonlinearity } from "../lib/cells/types.ts";
import { modelConfig } from "../lib/lm/model.ts";
import { SAMPLINGS } from "../lib/corpus/batches.ts";
import { NORMALIZATIONS, TOKEN_KINDS } from "../lib/corpus/tokenize.ts";
import type { LmRunConfig } from "../lib/lm/run.ts";

/** The flags of `deno task train`, with their defaults. */
export const TRAIN_FLAGS = defineFlags(
  [
    // data
    {
      name: "corpus",
      type: "string",
      default: "data/timemachine.txt",
      help: "Corpus: a path, an http(s) URL or - for stdin.",
    },
    { name: "checksum", type: "string", help: "Expected SHA-256 or SHA-1 (hex) of a URL corpus." },
    { name: "token", type: "choice", choices: TOKEN_KINDS, default: "char", help: "Token level." },
    {
      name: "normalize",
      type: "choice",
      choices: NORMALIZATIONS,
      default: "d2l",
      help: "d2l: letters only, lower-cased; raw: every character.",
    },
    {
      name: "min-freq",
      type: "integer",
      default: 0,
      validate: nonNegativeInteger,
      help: "Tokens seen fewer times become <unk>.",
    },
    {
      name: "valid-fraction",
      type: "number",
      default: 0.1,
      validate: inRange(0, 1, { hiOpen: true }),
      help: "Share of the corpus held out (its end) for validation.",
    },
    // model
    { name: "cell", type: "choice", choices: CELL_KINDS, default: "lstm", help: "Recurrent cell." },
    {
      name: "nonlinearity",
      type: "choice",
      choices: ["tanh", "relu"],
      default: "tanh",
      help: "rnn activation.",
    },
    {
      name: "reset-after",
      type: "boolean",
      help: "gru: reset gate after the recurrent matmul (PyTorch/cuDNN).",
    },
    {
      name: "hidden-size",
      type: "integer",
      default: 256,
      validate: positiveInteger,
      help: "Hidden units per layer.",
    },
    {
      name: "layers",
      type: "integer",
      default: 1,
      validate: positiveInteger,
      help: "Stacked recurrent layers.",
    },
    {
      name: "bidirectional",
      type: "boolean",
      help: "Also read backwards (sees the future: cannot generate).",
    },
    {
      name: "dropout",
      type: "number",
      default: 0,
      validate: inRange(0, 1, { hiOpen: true }),
      help: "Dropout between layers.",
    },
    {
      name: "embedding-size",
      type: "integer",
      default: 0,
      validate: nonNegativeInteger,
      help: "Embedding width; 0 feeds one-hot vectors.",
    },
    ...withDefaults([INIT_FLAG], { init: "normal" }),
    // optimisation
    ...withDefaults(TRAINING_FLAGS, { "batch-size": 32, epochs: 20, lr: 0.01 }),
    NUM_STEPS_FLAG,
    {
      name: "sampling",
      type: "choice",
      choices: SAMPLINGS,
      default: "sequential",
      help: "Minibatches: sequential (state carried) or random.",
    },
    BACKEND_FLAG,
    THREADS_FLAG,
    // output
    {
      name: "out",
      type: "string",
      default: "runs/last",
      validate: nonEmpty,
      help: "Run directory (checkpoint, metrics, plot).",
    },
    {
      name: "sample-every",
      type: "integer",
      default: 10,
      validate: nonNegativeInteger,
      help: "Print a sample every N epochs; 0 never.",
    },
    { name: "prefix", type: "string", default: "time traveller", help: "Prefix of those samples." },
    JSON_FLAG,
  ] as const,
);

/** Flags fixed by a checkpoint: `--resume` refuses a different value. */
const FIXED_ON_RESUME: Record<string, (c: LmRunConfig) => unknown> = {
  corpus: (c) => c.corpus.source,
  token: (c) => c.corpus.token,
  normalize: (c) => c.corpus.normalize,
  "min-freq": (c) => c.corpus.minFreq,
  "valid-fraction": (c) => c.corpus.validFraction,
  cell: (c) => c.model.cell,
  nonlinearity: (c) => c.model.nonlinearity,
  "reset-after": (c) => c.model.resetAfter,
  "hidden-size": (c) => c.model.hiddenSize,
  layers: (c) => c.model.layers,
  bidirectional: (c) => c.model.bidirectional,
  dropout: (c) => c.model.dropout,
  "embedding-size": (c) => c.model.embeddingSize,
  init: (c) => c.model.init,
  "batch-size": (c) => c.train.batchSize,
  "num-steps": (c) => c.train.numSteps,
  optimizer: (c) => c.train.optimizer,
  lr: (c) => c.train.lr,
  clip: (c) => c.train.clip,
  sampling: (c) => c.train.sampling,
  seed: (c) => c.train.seed,
  "lr-schedule": (c) => c.train.lrSchedule ?? "constant",
  "warmup-steps": (c) => c.train.warmupSteps ?? 0,
  "weight-decay": (c) => c.train.weightDecay ?? 0,
};

/** The parsed values of {@linkcode TRAIN_FLAGS}. */
export type TrainFlags = FlagValues<typeof TRAIN_FLAGS>;

/** The run's config from the flags of a fresh run. */
export function configFromFlags(flags: TrainFlags, vocabSize: number): LmRunConfig {
  return {
    model: modelConfig({
      vocabSize,
      cell: flags.cell,
      hiddenSize: flags.hiddenSize,
      layers: flags.layers,
      bidirectional: flags.bidirectional,
      dropout: flags.dropout,
      embeddingSize: flags.embeddingSize,
      nonlinearity: flags.nonlinearity as Nonlinearity,
      resetAfter: flags.resetAfter,
      init: flags.init,
      seed: flags.seed,
    }),
    corpus: {
      source: flags.corpus,
      token: flags.token,
      normalize: flags.normalize,
      minFreq: flags.minFreq,
      validFraction: flags.validFraction,
    },
    train: {
      batchSize: flags.batchSize,
      numSteps: flags.numSteps,
      optimizer: flags.optimizer,
      lr: flags.lr,
      clip: flags.clip,
      sampling: flags.sampling,
      seed: flags.seed,
      ...loopSettings(flags),
    },
  };
}

export { givenFlag };

/** Refuses shape-fixing flags given with `--resume` that differ from the checkpoint. */
export function checkResumeFlags(args: string[], flags: TrainFlags, config: LmRunConfig): void {
  for (const [name, saved] of Object.entries(FIXED_ON_RESUME)) {
    const given = givenFlag(args, name);
    const camel = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const value = (flags as Record<string, unknown>)[camel];
    if (given && value !== saved(config)) {
      throw new UsageError(
        `Cannot resume with --${name} ${JSON.stringify(value)}: the checkpoint was trained ` +
          `with ${JSON.stringify(saved(config))}`,
      );
    }
  }
}
