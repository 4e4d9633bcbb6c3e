/**
 * `deno task generate`: trains a conditioned generator (1 vs N) on labelled
 * text (surnames by language by default), scores its per-character
 * perplexity on the held-out test split, and writes sequences for a
 * condition: `--condition Russian --count 10`, streaming each character.
 * With `--checkpoint` it samples from a trained run instead of training;
 * with `--classifier` it closes the loop, reporting the share of generated
 * sequences a trained classifier assigns to the condition asked for.
 *
 * @module
 */
import { loadClassifierRun } from "../lib/classify/run.ts";
import {
  defineFlags,
  didYouMean,
  emitJson,
  flagsOrHelp,
  type FlagValues,
  info,
  nonEmpty,
  positiveInteger,
  runMain,
} from "./_cli.ts";
import {
  BACKEND_FLAG,
  checkResume,
  DECODE_FLAGS,
  decodeSettings,
  INIT_FLAG,
  JSON_FLAG,
  THREADS_FLAG,
  TRAINING_FLAGS,
} from "./_task_flags.ts";
import {
  checkSequenceMemory,
  DATA_FLAGS,
  labelledRunConfig,
  labelledRunWriter,
  openLabelledRun,
  SIZE_FLAGS,
  trainEpochs,
} from "./_labelled_flags.ts";
import { describeBackend } from "../lib/tf.ts";
import { startBackend } from "./_backend.ts";
import { UsageError } from "../lib/errors.ts";
import { Vocab } from "../lib/corpus/vocab.ts";
import { epochRow, fitRun, runBasics, runOptimizer } from "./_fit_run.ts";
import { resumingText } from "./_loop.ts";
import { type GenerateRunConfig, GENERATOR_RUN, loadGeneratorRun } from "../lib/generate/run.ts";
import { splitNotes } from "../lib/supervised/labelled_set.ts";
import { predictLabels } from "../lib/classify/evaluate.ts";
import { ConditionedGenerator, CONDITIONINGS, generatorConfig } from "../lib/generate/model.ts";
import { evaluateGenerator } from "../lib/generate/evaluate.ts";
import { generatorBatches } from "../lib/generate/data.ts";
import { sampleSequences } from "../lib/generate/sample.ts";

/** The flags of `deno task generate`. */
export const GENERATE_FLAGS = defineFlags(
  [
    ...DATA_FLAGS,
    ...SIZE_FLAGS,
    {
      name: "conditioning",
      type: "choice",
      choices: CONDITIONINGS,
      default: "init",
      help: "init: the condition sets the initial state; input: fed at every step; none: baseline.",
    },
    {
      name: "condition-size",
      type: "integer",
      default: 16,
      validate: positiveInteger,
      help: "Condition embedding width (input design).",
    },
    ...TRAINING_FLAGS,
    INIT_FLAG,
    {
      name: "out",
      type: "string",
      default: "runs/generate",
      validate: nonEmpty,
      help: "Run directory to write.",
    },
    {
      name: "checkpoint",
      type: "string",
      help: "Sample from this trained run instead of training.",
    },
    { name: "condition", type: "string", help: "The label to generate for, e.g. Russian." },
    {
      name: "count",
      type: "integer",
      default: 10,
      validate: positiveInteger,
      help: "Sequences to write.",
    },
    {
      name: "max-length",
      type: "integer",
      default: 20,
      validate: positiveInteger,
      help: "Most tokens per sequence.",
    },
    ...DECODE_FLAGS,
    {
      name: "classifier",
      type: "string",
      help:
        "A classify run: report the share of --count samples per label it assigns to that label.",
    },
    BACKEND_FLAG,
    THREADS_FLAG,
    JSON_FLAG,
  ] as const,
);

type RunConfig = GenerateRunConfig;

type Flags = FlagValues<typeof GENERATE_FLAGS>;

/** Runs `deno task generate` with the given arguments; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const flags = flagsOrHelp(
    GENERATE_FLAGS,
    args,
    "deno task generate",
    "Train or sample a conditioned generator. Examples too long for memory (the estimate against the backend's limit) are refused before anything runs.",
  );
  if (!flags) return 0;
  checkResume(args, ["condition", "count"]);
  decodeSettings(flags); // --greedy with a sampling flag fails before anything runs
  const backend = await startBackend(flags.backend, flags.threads);
  if (flags.checkpoint !== undefined) {
    const loaded = await loadGeneratorRun(flags.checkpoint);
    try {
      const config = loaded.config;
      await samples(loaded.model, Vocab.fromJSON(loaded.vocab), config, loaded.path, flags);
      return 0;
    } finally {
      loaded.model.dispose();
    }
  }
  const log = flags.json ? () => {} : info;
  using run = await openLabelledRun(args, flags, GENERATOR_RUN);
  const { out, resumed, settings, set } = run;
  conditionId(set.data.labels, flags.condition); // a bad --condition fails before training
  const config: RunConfig = labelledRunConfig(run, () =>
    generatorConfig({
      vocabSize: set.vocab.size,
      numConditions: set.data.labels.length,
      conditioning: flags.conditioning,
      cell: flags.cell,
      embeddingSize: flags.embeddingSize,
      conditionSize: flags.conditionSize,
      hiddenSize: flags.hiddenSize,
      layers: flags.layers,
      dropout: flags.dropout,
      init: flags.init,
      seed: flags.seed,
    }));
  checkSequenceMemory(set.sequences.map((x) => x.length + 1), config.model, [
    { batchSize: config.train.batchSize, training: true },
  ], {
    what: `a generator on "${set.settings.source}"`,
    verb: "train",
    outputsPerStep: config.model.vocabSize,
  });
  const model = resumed?.model ?? new ConditionedGenerator(config.model);
  const { optimizer, optimizerName } = runOptimizer(resumed, config.train);
  try {
    const { train, valid, test } = set.split;
    log(
      `data ${set.settings.source}: ${set.data.examples.length} sequences, ${set.data.labels.length} ` +
        `conditions, vocabulary ${set.vocab.size}; ${train.length} train / ${valid.length} valid / ` +
        `${test.length} test; conditioning ${config.model.conditioning}; backend ${
          describeBackend(backend)
        }` + (resumed ? `; ${resumingText(resumed.position, settings.epochs!)}` : ""),
    );
    for (const note of splitNotes(set)) info(note);
    const writer = labelledRunWriter(run, config, {
      kind: GENERATOR_RUN.kind,
      overwrite: flags.overwrite,
    });
    const batchesOf = (indices: number[]) =>
      generatorBatches(set.sequences, set.labels, indices, { batchSize: 256 });
    const validBatches = batchesOf(valid);
    const { exitCode } = await fitRun(model, {
      ...runBasics(writer, { model, optimizer, optimizerName }, flags, settings, resumed?.position),
      batches: trainEpochs(set, config.train.batchSize, generatorBatches),
      validate: async () => {
        const s = await evaluateGenerator(model, validBatches);
        return { validLoss: s.loss, validPerplexity: s.perplexity, validAccuracy: s.accuracy };
      },
      monitor: { metric: "validLoss", mode: "min" },
      stepText: (loss) => `ppl ${Math.exp(loss).toFixed(2)}`,
      report: (metrics) => {
        const v = metrics.validation;
        return {
          row: epochRow(
            metrics,
            { trainPerplexity: Math.exp(metrics.trainLoss), ...v },
            "tokensPerSec",
            backend,
          ),
          line: `epoch ${metrics.epoch}: train ppl ${Math.exp(metrics.trainLoss).toFixed(3)}, ` +
            `valid ppl ${v.validPerplexity.toFixed(3)}, next-char accuracy ` +
            `${(100 * v.validAccuracy).toFixed(1)}%, ${Math.round(metrics.itemsPerSec)} chars/s`,
        };
      },
    });
    if (exitCode !== undefined) return exitCode;
    const best = await loadGeneratorRun(out);
    try {
      const s = await evaluateGenerator(best.model, batchesOf(test));
      const row = {
        event: "evaluate",
        split: "test",
        perplexity: s.perplexity,
        loss: s.loss,
        accuracy: s.accuracy,
        tokens: s.tokens,
        conditioning: config.model.conditioning,
        checkpoint: best.path,
      };
      if (flags.json) emitJson(row);
      else {
        console.log(
          `test split (${s.tokens} characters, <eos> included, ${best.path}): perplexity ` +
            `${s.perplexity.toFixed(3)}, next-char accuracy ${(100 * s.accuracy).toFixed(1)}%`,
        );
      }
      await samples(best.model, set.vocab, config, undefined, flags);
    } finally {
      best.model.dispose();
    }
    return 0;
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}

/** A condition's id by its label. */
function conditionId(labels: readonly string[], condition: string | undefined): number | undefined {
  if (condition === undefined) return undefined;
  const id = labels.indexOf(condition);
  if (id < 0) {
    throw new UsageError(
      `Cannot generate for --condition "${condition}": it is not a label` +
        `${didYouMean(condition, labels)}, expected one of ${labels.join(", ")}`,
    );
  }
  return id;
}

/**
 * Prints `--count` samples for `--condition` (for an unconditioned model, also
 * without it), and the classifier check when asked; a conditioned model given
 * neither flag from `--checkpoint` is refused (after training, both are optional).
 */
async function samples(
  model: ConditionedGenerator,
  vocab: Vocab,
  config: RunConfig,
  checkpoint: string | undefined,
  flags: Flags,
): Promise<void> {
  const labels = config.data.labels;
  const decode = {
    count: flags.count,
    maxLength: flags.maxLength,
    ...decodeSettings(flags),
    seed: flags.seed,
  };
  let id = conditionId(labels, flags.condition);
  // After training, sampling is optional; from --checkpoint it is the point.
  if (id === undefined && flags.classifier === undefined && checkpoint !== undefined) {
    if (config.model.conditioning !== "none") {
      throw new UsageError(
        `Nothing to generate: ${checkpoint} is a conditioned model, expected --condition LABEL ` +
          `(one of ${labels.join(", ")}) or --classifier RUN`,
      );
    }
    id = 0; // an unconditioned model ignores the condition: any label samples the same
  }
  if (id !== undefined) {
    const encoder = new TextEncoder();
    const write = (text: string) => Deno.stdout.writeSync(encoder.encode(text));
    await sampleSequences(model, vocab, id, {
      ...decode,
      batchSize: 1, // one at a time, so each character streams (and --json picks the same)
      onToken: flags.json ? undefined : (_i, token) => write(token),
      onSequence: (_i, text) =>
        flags.json
          ? emitJson({
            event: "sample",
            condition: flags.condition === undefined ? null : labels[id!],
            text,
          })
          : write("\n"),
    });
  }
  if (flags.classifier !== undefined) await closeTheLoop(model, vocab, labels, flags, decode);
}

/** The share of each label's samples that a trained classifier gives that label. */
async function closeTheLoop(
  model: ConditionedGenerator,
  vocab: Vocab,
  labels: readonly string[],
  flags: Flags,
  decode: Parameters<typeof sampleSequences>[3],
): Promise<void> {
  const loaded = await loadClassifierRun(flags.classifier!);
  try {
    const data = loaded.config.data;
    const classifierVocab = Vocab.fromJSON(loaded.vocab);
    let hits = 0, total = 0;
    const rows = [];
    for (let id = 0; id < labels.length; id++) {
      const target = data.labels.indexOf(labels[id]);
      if (target < 0) continue;
      const texts = await sampleSequences(model, vocab, id, decode);
      // Characters the classifier never saw would make it refuse; those samples count as misses.
      const known = texts.filter((t) => [...t].every((c) => classifierVocab.has(c)));
      const tops = known.length === 0 ? [] : await predictLabels(
        loaded.model,
        classifierVocab,
        data.labels,
        known,
        { topK: 1, foldAccents: data.foldAccents },
      );
      const right = tops.filter((top) => top[0].label === labels[id]).length;
      hits += right;
      total += texts.length;
      rows.push({
        event: "match",
        condition: labels[id],
        share: right / texts.length,
        count: texts.length,
      });
    }
    const overall = { event: "match", condition: "all", share: hits / total, count: total };
    for (const row of [...rows, overall]) {
      if (flags.json) emitJson(row);
      else {console.log(
          `${row.condition}: ${(100 * row.share).toFixed(1)}% of ${row.count} classified as asked`,
        );}
    }
  } finally {
    loaded.model.dispose();
  }
}

if (import.meta.main) await runMain(main);
