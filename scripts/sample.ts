/**
 * `deno task sample`: warms a trained model up on a prefix, then generates
 * text, streaming each token to stdout as it is chosen.
 *
 * @module
 */
import { defineFlags, emitJson, flagsOrHelp, info, nonNegativeInteger, runMain } from "./_cli.ts";
import {
  BACKEND_FLAG,
  CHECKPOINT_FLAG,
  DECODE_FLAGS,
  decodeSettings,
  JSON_FLAG,
  THREADS_FLAG,
  WHICH_FLAG,
} from "./_task_flags.ts";
import { startBackend } from "./_backend.ts";
import { loadTrainedModel } from "../lib/lm/run.ts";
import { sampleText } from "../lib/lm/sample.ts";
import { tokenizeText } from "../lib/corpus/tokenize.ts";

/** The flags of `deno task sample`. */
export const SAMPLE_FLAGS = defineFlags(
  [
    CHECKPOINT_FLAG,
    WHICH_FLAG,
    {
      name: "prefix",
      type: "string",
      default: "time traveller",
      help: "Text the model continues.",
    },
    {
      name: "length",
      type: "integer",
      default: 200,
      validate: nonNegativeInteger,
      help: "Tokens to generate.",
    },
    ...DECODE_FLAGS,
    { name: "seed", type: "integer", default: 0, help: "Seed of the sampling." },
    BACKEND_FLAG,
    THREADS_FLAG,
    JSON_FLAG,
  ] as const,
);

/** Runs `deno task sample` with the given arguments; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const flags = flagsOrHelp(
    SAMPLE_FLAGS,
    args,
    "deno task sample",
    "Generate text from a checkpoint.",
  );
  if (!flags) return 0;
  const decoding = decodeSettings(flags);
  await startBackend(flags.backend, flags.threads);
  const { model, vocab, config } = await loadTrainedModel(flags.checkpoint, { which: flags.which });
  try {
    if (config.model.bidirectional) {
      info(
        "warning: this model is bidirectional: it was trained seeing the future, so what it " +
          "generates one token at a time is not what its perplexity promised",
      );
    }
    const read = tokenizeText(flags.prefix, { token: vocab.token, normalize: vocab.normalize })
      .join(vocab.joiner);
    if (read !== "" && read !== flags.prefix) {
      info(
        `notice: the prefix "${flags.prefix}" reads as "${read}" after ${vocab.normalize} ` +
          "normalisation (the model's vocabulary)",
      );
    }
    const encoder = new TextEncoder();
    const write = (text: string) => Deno.stdout.writeSync(encoder.encode(text));
    const text = await sampleText(model, vocab, flags.prefix, {
      length: flags.length,
      ...decoding,
      seed: flags.seed,
      onToken: flags.json ? undefined : write,
    });
    if (flags.json) emitJson({ event: "sample", text, prefix: flags.prefix, seed: flags.seed });
    else write("\n");
    return 0;
  } finally {
    model.dispose();
  }
}

if (import.meta.main) await runMain(main);
