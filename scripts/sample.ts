/**
 * `deno task sample`: warms a trained model up on a prefix, then generates
 * text, streaming each token to stdout as it is chosen.
 *
 * @module
 */
import {
  defineFlags,
  emitJson,
  helpText,
  info,
  inRange,
  nonNegativeInteger,
  parseFlags,
  positive,
  runMain,
} from "./_cli.ts";
import {
  BACKEND_FLAG,
  CHECKPOINT_FLAG,
  JSON_FLAG,
  THREADS_FLAG,
  WHICH_FLAG,
} from "./_task_flags.ts";
import { startBackend } from "./_backend.ts";
import { loadTrainedModel } from "../lib/lm/run.ts";
import { sampleText } from "../lib/lm/sample.ts";
import { tokenizeText } from "../lib/corpus/tokenize.ts";
import { UsageError } from "../lib/errors.ts";

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
    { name: "seed", type: "integer", default: 0, help: "Seed of the sampling." },
    BACKEND_FLAG,
    THREADS_FLAG,
    JSON_FLAG,
  ] as const,
);

/** Runs `deno task sample` with the given arguments; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: flags } = parseFlags(SAMPLE_FLAGS, args);
  if (flags.help) {
    console.log(helpText("deno task sample", "Generate text from a checkpoint.", SAMPLE_FLAGS));
    return 0;
  }
  const { greedy, temperature: t, topK: k, topP: p } = flags;
  if (greedy && (t !== 1 || k !== 0 || p !== 1)) {
    const given = [
      t !== 1 && `--temperature ${t}`,
      k !== 0 && `--top-k ${k}`,
      p !== 1 && `--top-p ${p}`,
    ];
    throw new UsageError(
      `Cannot sample with --greedy and ${given.filter(Boolean).join(" and ")}: greedy always ` +
        "takes the most likely token, expected --greedy or the sampling flags",
    );
  }
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
      greedy: flags.greedy,
      temperature: flags.temperature,
      topK: flags.topK,
      topP: flags.topP,
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
