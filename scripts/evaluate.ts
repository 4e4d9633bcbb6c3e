/**
 * `deno task evaluate`: perplexity of a trained checkpoint on a corpus split
 * or any file, in the checkpoint's vocabulary.
 *
 * @module
 */
import { defineFlags, emitJson, flagsOrHelp, info, positiveInteger, runMain } from "./_cli.ts";
import {
  BACKEND_FLAG,
  CHECKPOINT_FLAG,
  JSON_FLAG,
  THREADS_FLAG,
  WHICH_FLAG,
} from "./_task_flags.ts";
import { describeBackend } from "../lib/tf.ts";
import { startBackend } from "./_backend.ts";
import { loadTrainedModel } from "../lib/lm/run.ts";
import { loadCorpus } from "../lib/corpus/load.ts";
import { evaluatePerplexity } from "../lib/lm/evaluate.ts";

/** The flags of `deno task evaluate`. */
export const EVALUATE_FLAGS = defineFlags(
  [
    CHECKPOINT_FLAG,
    WHICH_FLAG,
    {
      name: "corpus",
      type: "string",
      help: "Corpus to score (default: the one it was trained on).",
    },
    {
      name: "split",
      type: "choice",
      choices: ["valid", "train", "all"],
      help:
        "Part of the corpus: valid (default for the training corpus) or all (default for another corpus).",
    },
    {
      name: "batch-size",
      type: "integer",
      validate: positiveInteger,
      help:
        "Rows scored in parallel (default: as trained); past 8,192 tokens a call they run in groups, same result.",
    },
    {
      name: "num-steps",
      type: "integer",
      validate: positiveInteger,
      help: "Steps per forward call (default: as trained).",
    },
    BACKEND_FLAG,
    THREADS_FLAG,
    JSON_FLAG,
  ] as const,
);

/** Runs `deno task evaluate` with the given arguments; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const flags = flagsOrHelp(
    EVALUATE_FLAGS,
    args,
    "deno task evaluate",
    "Perplexity of a checkpoint.",
  );
  if (!flags) return 0;
  const backend = await startBackend(flags.backend, flags.threads);
  const { model, vocab, config, path } = await loadTrainedModel(flags.checkpoint, {
    which: flags.which,
  });
  const source = flags.corpus ?? config.corpus.source;
  const split = flags.split ?? (flags.corpus === undefined ? "valid" : "all");
  const corpus = await loadCorpus({
    ...config.corpus,
    source,
    vocab,
    validFraction: split === "all" ? 0 : config.corpus.validFraction,
  });
  try {
    const ids = split === "valid" ? corpus.valid : corpus.train;
    const result = await evaluatePerplexity(model, ids, {
      batchSize: flags.batchSize ?? config.train.batchSize,
      numSteps: flags.numSteps ?? config.train.numSteps,
    });
    const row = {
      event: "evaluate",
      perplexity: result.perplexity,
      tokens: result.tokens,
      split,
      corpus: source,
      unknownTokens: corpus.unknownTokens,
      checkpoint: path,
      backend: describeBackend(backend),
    };
    if (flags.json) emitJson(row);
    else {
      console.log(
        `perplexity ${result.perplexity.toFixed(3)} on ${result.tokens} tokens ` +
          `(${split} of ${source}; ${corpus.unknownTokens} unknown tokens counted as <unk>)`,
      );
      info(`checkpoint ${path}, backend ${describeBackend(backend)}`);
    }
    return 0;
  } finally {
    corpus.close();
    model.dispose();
  }
}

if (import.meta.main) await runMain(main);
