/**
 * The flags of `deno task translate`, and the run settings made from them.
 * Defaults are d2l's configuration (2-layer GRU, 256 wide, dropout 0.2,
 * batch 128, Adam 0.005, clip 1) on a held-out random split of every pair,
 * with additive attention.
 *
 * @module
 */
import {
  defineFlags,
  inRange,
  nonEmpty,
  nonNegative,
  nonNegativeInteger,
  positiveInteger,
} from "./_cli.ts";
import {
  BACKEND_FLAG,
  JSON_FLAG,
  THREADS_FLAG,
  TRAINING_FLAGS,
  WHICH_FLAG,
  withDefaults,
} from "./_task_flags.ts";
import { SIZE_FLAGS } from "./_labelled_flags.ts";
import { TOKEN_KINDS } from "../lib/corpus/tokenize.ts";
import { ATTENTION_KINDS } from "../lib/seq2seq/config.ts";
import type { PairDataSettings } from "../lib/seq2seq/dataset.ts";

/** The flags of `deno task translate`. */
export const TRANSLATE_FLAGS = defineFlags(
  [
    {
      name: "data",
      type: "string",
      default: "data/fra-eng/fra.txt",
      valueName: "path",
      help: "A source<TAB>target[<TAB>anything] file, one pair per line.",
    },
    { name: "token", type: "choice", choices: TOKEN_KINDS, default: "word", help: "Token level." },
    {
      name: "normalize",
      type: "choice",
      choices: ["d2l", "raw"],
      default: "d2l",
      help: "d2l: lower case, a space before , . ! ? (as the book); raw: as written.",
    },
    {
      name: "min-freq",
      type: "integer",
      default: 2,
      validate: positiveInteger,
      help: "Tokens seen fewer times become <unk>.",
    },
    {
      name: "split",
      type: "choice",
      choices: ["random", "d2l"],
      default: "random",
      help: "random: --valid-fraction held out at random; d2l: the first --num-train pairs " +
        "train and the next --num-valid validate.",
    },
    {
      name: "num-train",
      type: "integer",
      default: 512,
      validate: positiveInteger,
      help: "Training pairs of --split d2l.",
    },
    {
      name: "num-valid",
      type: "integer",
      default: 128,
      validate: positiveInteger,
      help: "Validation pairs of --split d2l.",
    },
    {
      name: "valid-fraction",
      type: "number",
      default: 0.1,
      validate: inRange(0, 1, { loOpen: true, hiOpen: true }),
      help: "Share of the pairs held out by --split random.",
    },
    {
      name: "num-steps",
      type: "integer",
      default: 0,
      validate: nonNegativeInteger,
      help: "d2l's fixed length: cut or pad every side to this many steps; 0 keeps every " +
        "sentence whole in length-bucketed batches.",
    },
    ...withDefaults(SIZE_FLAGS, {
      "embedding-size": 256,
      "hidden-size": 256,
      layers: 2,
      dropout: 0.2,
    }),
    { name: "bidirectional", type: "boolean", help: "A bidirectional encoder." },
    {
      name: "attention",
      type: "choice",
      choices: ATTENTION_KINDS,
      default: "additive",
      help: "none: the encoder's last state is the context of every step (d2l 10.7); " +
        "additive: Bahdanau attention (d2l 11.4); dot: scaled dot product.",
    },
    ...withDefaults(TRAINING_FLAGS, { epochs: 30, "batch-size": 128, lr: 0.005 }),
    {
      name: "out",
      type: "string",
      default: "runs/translate",
      validate: nonEmpty,
      help: "Run directory to write.",
    },
    {
      name: "beam",
      type: "integer",
      default: 1,
      validate: positiveInteger,
      help: "Beam width of decoding; 1 is greedy.",
    },
    {
      name: "length-penalty",
      type: "number",
      default: 0.6,
      validate: nonNegative,
      help: "alpha of GNMT's length penalty ((5 + n) / 6)^alpha in beam search; 0: none.",
    },
    {
      name: "n-best",
      type: "integer",
      default: 1,
      validate: positiveInteger,
      help: "Translations printed per sentence (at most --beam).",
    },
    {
      name: "max-length-ratio",
      type: "number",
      default: 2,
      validate: nonNegative,
      help: "A translation stops after ratio x source tokens + --max-length-extra.",
    },
    {
      name: "max-length-extra",
      type: "integer",
      default: 10,
      validate: nonNegativeInteger,
      help: "Tokens allowed on top of the ratio.",
    },
    { name: "translate", type: "string", help: "Translate this sentence (with --checkpoint)." },
    {
      name: "translate-file",
      type: "string",
      help: "Translate each line of this file (- for stdin); a line source<TAB>reference " +
        "is also scored with d2l's BLEU.",
    },
    {
      name: "heatmap",
      type: "string",
      valueName: "path",
      validate: nonEmpty,
      help: "With --translate: write the attention weights of the first sentence as SVG.",
    },
    {
      name: "evaluate",
      type: "boolean",
      help: "Score --checkpoint on its validation split instead of training.",
    },
    {
      name: "checkpoint",
      type: "string",
      default: "runs/translate",
      help: "Run or checkpoint directory for --translate and --evaluate.",
    },
    WHICH_FLAG,
    BACKEND_FLAG,
    THREADS_FLAG,
    JSON_FLAG,
  ] as const,
);

/** The data settings from parsed flags. */
export function pairDataSettings(flags: {
  data: string;
  token: "char" | "word";
  normalize: "d2l" | "raw";
  minFreq: number;
  split: "d2l" | "random";
  numTrain: number;
  numValid: number;
  validFraction: number;
  numSteps: number;
  seed: number;
}): PairDataSettings {
  return {
    source: flags.data,
    token: flags.token,
    normalize: flags.normalize,
    minFreq: flags.minFreq,
    split: flags.split,
    numTrain: flags.numTrain,
    numValid: flags.numValid,
    validFraction: flags.validFraction,
    numSteps: flags.numSteps === 0 ? null : flags.numSteps,
    seed: flags.seed,
  };
}

/** Decoding options from parsed flags. */
export function decodeOptions(flags: {
  beam: number;
  lengthPenalty: number;
  nBest: number;
  maxLengthRatio: number;
  maxLengthExtra: number;
}) {
  return {
    beam: flags.beam,
    lengthPenalty: flags.lengthPenalty,
    nBest: flags.nBest,
    maxLengthRatio: flags.maxLengthRatio,
    maxLengthExtra: flags.maxLengthExtra,
  };
}
