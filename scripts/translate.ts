/**
 * `deno task translate`: trains an encoder-decoder (N vs M) on sentence
 * pairs (English-French from Tatoeba by default), scores it with BLEU on the
 * validation split, and translates new sentences with a trained run.
 *
 * A run directory holds `checkpoint/` and `best/` (the lowest validation
 * loss), `metrics.jsonl`, `loss.svg`, `bleu.txt` (the final scores and a few
 * translations) and, for attention models, `attention.svg`: the weights of the
 * first validation sentence as a heat map.
 *
 * @module
 */
import {
  checkWritableFile,
  emitJson,
  flagsOrHelp,
  type FlagValues,
  info,
  readInputLines,
  runMain,
} from "./_cli.ts";
import { epochOf } from "./_labelled_flags.ts";
import { checkResume } from "./_task_flags.ts";
import { decodeOptions, pairDataSettings, TRANSLATE_FLAGS } from "./_translate_flags.ts";
import { epochRow, fitRun, openTrainingRun, runBasics, runOptimizer } from "./_fit_run.ts";
import { resumingText } from "./_loop.ts";
import { checkSequenceMemory } from "./_labelled_flags.ts";
import { describeBackend } from "../lib/tf.ts";
import { startBackend } from "./_backend.ts";
import { UsageError } from "../lib/errors.ts";
import { preprocessPairText, tokenizePairSide } from "../lib/supervised/pairs.ts";
import { RunWriter } from "../lib/training/run.ts";
import {
  loadTranslateRun,
  pairVocabsOf,
  SEQ2SEQ_RUN,
  type TranslateRunConfig,
} from "../lib/seq2seq/run.ts";
import { seq2seqConfig } from "../lib/seq2seq/config.ts";
import { Seq2Seq } from "../lib/seq2seq/model.ts";
import { type PairData, type PairDataSettings, preparePairData } from "../lib/seq2seq/dataset.ts";
import { pairBatches } from "../lib/seq2seq/data.ts";
import { type TranslateOptions } from "../lib/seq2seq/decode.ts";
import { evaluateTranslations, translateText, validationLoss } from "../lib/seq2seq/evaluate.ts";
import { d2lBleu } from "../lib/seq2seq/bleu.ts";
import { attentionHeatmapSvg } from "../lib/seq2seq/heatmap.ts";

type RunConfig = TranslateRunConfig;

type Flags = FlagValues<typeof TRANSLATE_FLAGS>;

/** Runs `deno task translate` with the given arguments; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const flags = flagsOrHelp(
    TRANSLATE_FLAGS,
    args,
    "deno task translate",
    "Train an encoder-decoder on sentence pairs, score it with BLEU, or translate with a trained run. Sentences too long for memory (the estimate against the backend's limit) are refused before anything runs.",
  );
  if (!flags) return 0;
  if (flags.nBest > flags.beam) {
    throw new UsageError(
      `Invalid --n-best ${flags.nBest}: expected at most --beam (${flags.beam})`,
    );
  }
  if (flags.heatmap !== undefined && flags.translate === undefined) {
    throw new UsageError("Invalid --heatmap: it draws the sentence of --translate, expected both");
  }
  if (flags.heatmap !== undefined) await checkWritableFile("heatmap", flags.heatmap);
  if (flags.translate !== undefined || flags.translateFile !== undefined) {
    await startBackend(flags.backend, flags.threads);
    return await translate(flags);
  }
  const backend = await startBackend(flags.backend, flags.threads);
  if (flags.evaluate) return await evaluateRun(flags.checkpoint, flags, { which: flags.which });
  checkResume(args, ["beam", "length-penalty", "n-best"]);
  const log = flags.json ? () => {} : info;
  using run = await openTrainingRun(args, flags, SEQ2SEQ_RUN);
  const { out, resumed, settings } = run;
  const saved = resumed?.config;
  const data = await preparePairData(
    saved?.data ?? pairDataSettings(flags),
    resumed ? pairVocabsOf(resumed.vocab, resumed.path) : undefined,
  );
  // One layer has nothing between layers to drop out; d2l's 0.2 applies from two.
  const dropout = flags.layers === 1 && !args.some((a) => a.startsWith("--dropout"))
    ? 0
    : flags.dropout;
  const config: RunConfig = saved ? { ...saved, train: settings } : {
    model: seq2seqConfig({
      sourceVocabSize: data.vocabs.source.size,
      targetVocabSize: data.vocabs.target.size,
      cell: flags.cell,
      embeddingSize: flags.embeddingSize,
      hiddenSize: flags.hiddenSize,
      layers: flags.layers,
      dropout,
      bidirectional: flags.bidirectional,
      attention: flags.attention,
      seed: flags.seed,
    }),
    data: data.settings,
    train: settings,
  };
  // Encoder over the longest source, decoder over the longest target (+ <bos>).
  const what = `an encoder-decoder on "${data.settings.source}"`;
  const passes = [{ batchSize: config.train.batchSize, training: true }];
  checkSequenceMemory(data.train.map((p) => p.source.length), config.model, passes, {
    what: `${what} (sources)`,
    verb: "train",
    outputsPerStep: 0,
  });
  checkSequenceMemory(
    data.train.map((p) => p.target.length + 1),
    {
      ...config.model,
      bidirectional: false,
    },
    passes,
    {
      what: `${what} (targets)`,
      verb: "train",
      outputsPerStep: config.model.targetVocabSize,
    },
  );
  const model = resumed?.model ?? new Seq2Seq(config.model);
  const { optimizer, optimizerName } = runOptimizer(resumed, config.train);
  try {
    const numSteps = data.settings.numSteps ?? undefined;
    log(
      `data ${data.settings.source}: ${data.train.length} train / ${data.valid.length} valid pairs ` +
        `(${data.settings.split} split), vocabularies ${data.vocabs.source.size} source / ` +
        `${data.vocabs.target.size} target ${data.settings.token}s; ` +
        `${config.model.attention === "none" ? "no" : config.model.attention} attention; ` +
        `backend ${describeBackend(backend)}` +
        (resumed ? `; ${resumingText(resumed.position, settings.epochs!)}` : ""),
    );
    const run = RunWriter.open(out, {
      config,
      kind: SEQ2SEQ_RUN.kind,
      vocab: { source: data.vocabs.source.toJSON(), target: data.vocabs.target.toJSON() },
      history: resumed?.history,
      overwrite: flags.overwrite,
    });
    const { exitCode } = await fitRun(model, {
      ...runBasics(run, { model, optimizer, optimizerName }, flags, settings, resumed?.position),
      batches: (_epoch, rng) =>
        epochOf(pairBatches(data.train, { batchSize: config.train.batchSize, rng, numSteps })),
      validate: async () => ({
        validLoss: await validationLoss(model, data.valid, {
          batchSize: config.train.batchSize,
          numSteps,
        }),
      }),
      monitor: { metric: "validLoss", mode: "min" },
      stepText: (loss) => `loss ${loss.toFixed(3)}`,
      report: (metrics) => ({
        row: epochRow(
          metrics,
          { validLoss: metrics.validation.validLoss },
          "targetTokensPerSec",
          backend,
        ),
        line: `epoch ${metrics.epoch}: train loss ${metrics.trainLoss.toFixed(4)}, valid loss ` +
          `${metrics.validation.validLoss.toFixed(4)}, ${
            Math.round(metrics.itemsPerSec)
          } target tokens/s`,
      }),
    });
    if (exitCode !== undefined) return exitCode;
    return await evaluateRun(out, flags, { which: "best", prepared: data, write: true });
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}

/**
 * Scores a run's checkpoint on its validation split: the loss, corpus
 * BLEU-4, d2l's BLEU and exact match with the decoding flags; prints the
 * `evaluate` row and, for a fresh run, writes `bleu.txt` and `attention.svg`.
 */
async function evaluateRun(
  dir: string,
  flags: Flags,
  options: { which: "best" | "last"; prepared?: PairData; write?: boolean },
): Promise<number> {
  const loaded = await loadTranslateRun(dir, options.which);
  const model = loaded.model;
  try {
    const config = loaded.config;
    const data = options.prepared ??
      await preparePairData(config.data, loaded.vocabs);
    const decoding: TranslateOptions = decodeOptions(flags);
    const loss = await validationLoss(model, data.valid, {
      batchSize: config.train.batchSize, // as in training: the same sums, the same loss
      numSteps: config.data.numSteps ?? undefined,
    });
    const started = performance.now();
    const scores = await evaluateTranslations(model, data.valid, data.vocabs, {
      ...decoding,
      nBest: 1,
      examples: 5,
    });
    const seconds = (performance.now() - started) / 1000;
    const row = {
      event: "evaluate",
      split: "valid",
      bleu: scores.bleu,
      d2lBleu: scores.d2lBleu,
      exactMatch: scores.exactMatch,
      loss,
      examples: data.valid.length,
      beam: decoding.beam,
      sentencesPerSec: data.valid.length / seconds,
      checkpoint: loaded.path,
      translations: scores.examples,
    };
    const summary =
      `valid split (${data.valid.length} pairs, ${loaded.path}, beam ${decoding.beam}): ` +
      `BLEU-4 ${scores.bleu.toFixed(4)}, d2l BLEU ${scores.d2lBleu.toFixed(3)}, exact match ` +
      `${(100 * scores.exactMatch).toFixed(1)}%, loss ${loss.toFixed(4)}`;
    const lines = scores.examples.map((e) =>
      `  ${e.source} => ${e.translation}   (reference: ${e.reference})`
    );
    if (options.write) {
      await Deno.writeTextFile(`${dir}/bleu.txt`, [summary, ...lines, ""].join("\n"));
      if (config.model.attention !== "none" && data.validText.length > 0) {
        const [t] = await translateText(model, data.vocabs, [data.validText[0].source], {
          token: config.data.token,
          normalize: "raw", // already normalised
          maxLengthRatio: decoding.maxLengthRatio,
          maxLengthExtra: decoding.maxLengthExtra,
          attention: true,
        });
        await Deno.writeTextFile(`${dir}/attention.svg`, heatmapOf(t));
      }
    }
    if (flags.json) emitJson(row);
    else console.log([summary, ...lines].join("\n"));
    return 0;
  } finally {
    model.dispose();
  }
}

/** The attention heat map of a translation's best hypothesis. */
function heatmapOf(t: Awaited<ReturnType<typeof translateText>>[number]): string {
  const best = t.hypotheses[0];
  const weights = (best.weights ?? []).map((row) => row.slice(0, t.sourceTokens.length));
  const targets = [...best.tokens, "<eos>"].slice(0, weights.length);
  return attentionHeatmapSvg(weights, t.sourceTokens, targets, {
    title: `${t.source} => ${best.text}`,
  });
}

/** A reference as the model's tokens, space-separated (what d2l's BLEU reads). */
function referenceTokens(reference: string, data: PairDataSettings): string {
  const text = data.normalize === "d2l" ? preprocessPairText(reference) : reference;
  return tokenizePairSide(text, data.token).join(" ");
}

/** `--translate` / `--translate-file`: the translations of each sentence. */
async function translate(flags: Flags): Promise<number> {
  const lines: string[] = [];
  if (flags.translate !== undefined) {
    if (flags.translate.trim() === "") {
      throw new UsageError('Invalid --translate "": expected a sentence, e.g. --translate "go ."');
    }
    lines.push(flags.translate);
  }
  if (flags.translateFile !== undefined) {
    lines.push(...await readInputLines("translate-file", flags.translateFile));
  }
  if (lines.length === 0) throw new UsageError("Nothing to translate: the input has no sentence");
  const [sources, references] = [
    lines.map((l) => l.split("\t")[0]),
    lines.map((l) => l.split("\t")[1]),
  ];
  const loaded = await loadTranslateRun(flags.checkpoint, flags.which);
  try {
    const { config, vocabs } = loaded;
    const decoding = decodeOptions(flags);
    // UTF-16 length: at least the tokens of either kind, without splitting a huge line.
    checkSequenceMemory(sources.map((s) => s.length), config.model, [
      { batchSize: Math.min(64, sources.length) * flags.beam, training: false },
    ], { what: "the text", verb: "translate", outputsPerStep: 0 });
    const attention = flags.heatmap !== undefined;
    if (attention && config.model.attention === "none") {
      throw new UsageError(
        `Invalid --heatmap: ${loaded.path} has no attention (--attention none), nothing to draw`,
      );
    }
    const results = await translateText(loaded.model, vocabs, sources, {
      ...decoding,
      token: config.data.token,
      normalize: config.data.normalize,
      attention,
    });
    results.forEach((t, i) => {
      if (t.unknown.length > 0) {
        info(
          `notice: ${t.unknown.map((w) => `"${w}"`).join(", ")} in "${t.source}" ` +
            `${t.unknown.length === 1 ? "is" : "are"} not in the model's source vocabulary ` +
            "(read as <unk>)",
        );
      }
      const reference = references[i]?.trim();
      const wanted = reference === undefined ? undefined : referenceTokens(reference, config.data);
      t.hypotheses.forEach((h, rank) => {
        const bleu = wanted === undefined ? undefined : d2lBleu(h.tokens.join(" "), wanted, 2);
        if (flags.json) {
          emitJson({
            event: "translate",
            source: t.source,
            translation: h.text,
            score: h.normalized,
            ...(flags.nBest > 1 ? { rank: rank + 1 } : {}),
            ...(bleu === undefined ? {} : { reference, bleu }),
          });
        } else {
          const head = flags.nBest > 1 ? `${rank + 1}. ` : "";
          console.log(
            `${head}${t.source} => ${h.text}  (score ${h.normalized.toFixed(3)}` +
              (bleu === undefined ? ")" : `, bleu ${bleu.toFixed(3)})`),
          );
        }
      });
    });
    if (flags.heatmap !== undefined) {
      await Deno.writeTextFile(flags.heatmap, heatmapOf(results[0]));
      if (!flags.json) info(`attention heat map: ${flags.heatmap}`);
    }
    return 0;
  } finally {
    loaded.model.dispose();
  }
}

if (import.meta.main) await runMain(main);
