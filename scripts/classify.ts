/**
 * `deno task classify`: trains a sequence classifier (N vs 1) on labelled
 * text (surnames by language by default) and scores it on a held-out test
 * split; `--predict` labels new text with a trained run; `--evaluate` scores
 * a trained run again.
 *
 * A run directory holds `checkpoint/` and `best/` (the best validation
 * macro-F1), `metrics.jsonl`, `loss.svg`, `accuracy.svg`, `split.json` (the
 * stratified split), `confusion.svg` and `report.txt` (test split).
 *
 * @module
 */
import { CLASSIFIER_RUN, type ClassifyRunConfig, loadClassifierRun } from "../lib/classify/run.ts";
import {
  defineFlags,
  emitJson,
  flagsOrHelp,
  info,
  nonEmpty,
  positiveInteger,
  readInputLines,
  runMain,
} from "./_cli.ts";
import {
  BACKEND_FLAG,
  checkResume,
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
import { metricPlotSvg } from "../lib/training/plot.ts";
import { savedHistory } from "../lib/training/run.ts";
import { type Dataset, prepareDataset, splitNotes } from "../lib/supervised/labelled_set.ts";
import {
  balancedClassWeights,
  CLASSIFIER_HEADS,
  classifierConfig,
  SequenceClassifier,
} from "../lib/classify/model.ts";
import { classifierBatches } from "../lib/classify/data.ts";
import { evaluateClassifier, predictLabels } from "../lib/classify/evaluate.ts";
import { metricsTable } from "../lib/classify/metrics.ts";
import { confusionMatrixSvg } from "../lib/classify/plot.ts";

/** The flags of `deno task classify`. */
export const CLASSIFY_FLAGS = defineFlags(
  [
    ...DATA_FLAGS,
    ...SIZE_FLAGS,
    { name: "bidirectional", type: "boolean", help: "Also read each sequence backwards." },
    {
      name: "head",
      type: "choice",
      choices: CLASSIFIER_HEADS,
      default: "last",
      help: "Sequence vector: last (final state) or mean/max over the real steps.",
    },
    { name: "class-weights", type: "boolean", help: "Weigh the loss by inverse label frequency." },
    ...TRAINING_FLAGS,
    INIT_FLAG,
    {
      name: "out",
      type: "string",
      default: "runs/classify",
      validate: nonEmpty,
      help: "Run directory to write.",
    },
    { name: "predict", type: "string", help: "Label this text (with --checkpoint)." },
    { name: "predict-file", type: "string", help: "Label each line of this file; - for stdin." },
    {
      name: "evaluate",
      type: "boolean",
      help: "Score --checkpoint on --split instead of training.",
    },
    {
      name: "split",
      type: "choice",
      choices: ["test", "valid", "train"],
      default: "test",
      help: "The split --evaluate scores.",
    },
    {
      name: "checkpoint",
      type: "string",
      default: "runs/classify",
      help: "Run or checkpoint directory for --predict and --evaluate (a run's best).",
    },
    {
      name: "top-k",
      type: "integer",
      default: 3,
      validate: positiveInteger,
      help: "Labels per prediction.",
    },
    BACKEND_FLAG,
    THREADS_FLAG,
    JSON_FLAG,
  ] as const,
);

type RunConfig = ClassifyRunConfig;

/** Runs `deno task classify` with the given arguments; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const flags = flagsOrHelp(
    CLASSIFY_FLAGS,
    args,
    "deno task classify",
    "Train or run a sequence classifier. Examples too long for memory (the estimate against the backend's limit) are refused before anything runs.",
  );
  if (!flags) return 0;
  if (flags.predict !== undefined || flags.predictFile !== undefined) {
    await startBackend(flags.backend, flags.threads);
    return await predict(flags);
  }
  checkResume(args, []);
  const backend = await startBackend(flags.backend, flags.threads);
  if (flags.evaluate) return await evaluateRun(flags.checkpoint, flags.split, flags.json);
  const log = flags.json ? () => {} : info;
  using run = await openLabelledRun(args, flags, CLASSIFIER_RUN);
  const { out, resumed, settings, set } = run;
  checkLabels(set, resumed?.config);
  const config: RunConfig = labelledRunConfig(run, () =>
    classifierConfig({
      vocabSize: set.vocab.size,
      numLabels: set.data.labels.length,
      cell: flags.cell,
      embeddingSize: flags.embeddingSize,
      hiddenSize: flags.hiddenSize,
      layers: flags.layers,
      bidirectional: flags.bidirectional,
      dropout: flags.dropout,
      head: flags.head,
      init: flags.init,
      seed: flags.seed,
      classWeights: flags.classWeights
        ? balancedClassWeights(set.split.train.map((i) => set.labels[i]), set.data.labels.length)
        : null,
    }));
  checkSequenceMemory(set.sequences.map((x) => x.length), config.model, [
    { batchSize: config.train.batchSize, training: true },
    { batchSize: 256, training: false }, // validation
  ], { what: `a classifier on "${set.settings.source}"`, verb: "train", outputsPerStep: 0 });
  const model = resumed?.model ?? new SequenceClassifier(config.model);
  const { optimizer, optimizerName } = runOptimizer(resumed, config.train);
  try {
    const { train, valid, test } = set.split;
    log(
      `data ${set.settings.source}: ${set.data.examples.length} examples, ${set.data.labels.length} labels, ` +
        `vocabulary ${set.vocab.size}; split ${train.length} train / ${valid.length} valid / ` +
        `${test.length} test (seed ${set.settings.seed}); backend ${describeBackend(backend)}` +
        (resumed ? `; ${resumingText(resumed.position, settings.epochs!)}` : ""),
    );
    for (const note of splitNotes(set)) info(note);
    const writer = labelledRunWriter(run, config, {
      kind: CLASSIFIER_RUN.kind,
      overwrite: flags.overwrite,
      plots: { "loss.svg": lossPlot, "accuracy.svg": accuracyPlot },
    });
    const validBatches = classifierBatches(set.sequences, set.labels, valid, { batchSize: 256 });
    const { exitCode } = await fitRun(model, {
      ...runBasics(writer, { model, optimizer, optimizerName }, flags, settings, resumed?.position),
      batches: trainEpochs(set, config.train.batchSize, classifierBatches),
      validate: async () => {
        const s = await evaluateClassifier(model, validBatches);
        return {
          validLoss: s.loss,
          validAccuracy: s.accuracy,
          validBalancedAccuracy: s.balancedAccuracy,
          validMacroF1: s.macroF1,
        };
      },
      monitor: { metric: "validMacroF1", mode: "max" },
      stepText: (loss) => `loss ${loss.toFixed(3)}`,
      report: (metrics) => {
        const v = metrics.validation;
        return {
          row: epochRow(metrics, v, "examplesPerSec", backend),
          line: `epoch ${metrics.epoch}: train loss ${metrics.trainLoss.toFixed(4)}, valid loss ` +
            `${v.validLoss.toFixed(4)}, accuracy ${pct(v.validAccuracy)}, balanced ` +
            `${pct(v.validBalancedAccuracy)}, macro-F1 ${pct(v.validMacroF1)}, ` +
            `${Math.round(metrics.itemsPerSec)} examples/s`,
        };
      },
      afterEpoch: async (epoch) => {
        if (epoch === 1 || resumed) {
          await Deno.writeTextFile(`${out}/split.json`, JSON.stringify(set.record));
        }
      },
    });
    if (exitCode !== undefined) return exitCode;
    return await evaluateRun(out, "test", flags.json, set, writer.history.length);
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

const lossPlot = (history: readonly Record<string, unknown>[]) =>
  metricPlotSvg(history, [{ key: "trainLoss", label: "train" }, {
    key: "validLoss",
    label: "valid",
  }], {
    yLabel: "loss",
  });

const accuracyPlot = (history: readonly Record<string, unknown>[]) =>
  metricPlotSvg(history, [
    { key: "validAccuracy", label: "accuracy" },
    { key: "validBalancedAccuracy", label: "balanced" },
    { key: "validMacroF1", label: "macro-F1" },
  ], { yLabel: "validation score" });

/** A resumed run must see the labels it was trained on. */
function checkLabels(set: Dataset, saved: RunConfig | undefined): void {
  if (!saved) return;
  if (saved.data.labels.join("\n") !== set.data.labels.join("\n")) {
    throw new UsageError(
      `Cannot resume: the data has labels ${
        set.data.labels.join(", ")
      }, expected the checkpoint's ` +
        saved.data.labels.join(", "),
    );
  }
}

/**
 * Scores a run's best checkpoint on a split; prints the `evaluate` row, the
 * per-label table, and (for a fresh run's test split) writes
 * `confusion.svg` and `report.txt` into the run directory.
 */
async function evaluateRun(
  dir: string,
  split: "test" | "valid" | "train",
  json: boolean,
  prepared?: Dataset,
  trained?: number,
): Promise<number> {
  const write = trained !== undefined; // a run just trained: write its report
  const loaded = await loadClassifierRun(dir);
  const model = loaded.model;
  try {
    const config = loaded.config;
    const set = prepared ?? await prepareDataset(config.data, Vocab.fromJSON(loaded.vocab));
    checkLabels(set, config);
    const batches = classifierBatches(set.sequences, set.labels, set.split[split], {
      batchSize: 256,
    });
    const s = await evaluateClassifier(model, batches);
    const labels = set.data.labels;
    const epoch = savedHistory(loaded.progress).length || undefined;
    const row = {
      event: "evaluate",
      split,
      accuracy: s.accuracy,
      balancedAccuracy: s.balancedAccuracy,
      macroF1: s.macroF1,
      macroPrecision: s.macroPrecision,
      macroRecall: s.macroRecall,
      examples: s.examples,
      loss: s.loss,
      checkpoint: loaded.path,
      perLabel: Object.fromEntries(labels.map((label, k) => [label, s.perLabel[k]])),
    };
    const table = metricsTable(s, labels);
    const summary = `${split} split (${s.examples} examples, ${loaded.path}): accuracy ${
      pct(s.accuracy)
    }, balanced accuracy ${pct(s.balancedAccuracy)}, macro-F1 ${pct(s.macroF1)}`;
    if (write) {
      const title = `${split} split: accuracy ${pct(s.accuracy)}, macro-F1 ${pct(s.macroF1)}`;
      await Deno.writeTextFile(
        `${dir}/confusion.svg`,
        confusionMatrixSvg(s.confusion, labels, { title }),
      );
      await Deno.writeTextFile(`${dir}/report.txt`, `${summary}\n\n${table}\n`);
    }
    if (json) emitJson(row);
    else {
      console.log(`${table}\n${summary}`);
      if (write) {
        console.log(
          `run: ${dir} (confusion.svg, report.txt); ${trained} epoch(s) trained, best epoch ` +
            `${epoch ?? "?"} (the checkpoint scored above)`,
        );
      }
    }
    return 0;
  } finally {
    model.dispose();
  }
}

/** `--predict` / `--predict-file`: top-k labels of each text. */
async function predict(flags: {
  predict?: string;
  predictFile?: string;
  checkpoint: string;
  topK: number;
  json: boolean;
}): Promise<number> {
  const texts: string[] = [];
  if (flags.predict !== undefined) texts.push(flags.predict);
  if (flags.predictFile !== undefined) {
    const lines = await readInputLines("predict-file", flags.predictFile);
    texts.push(...lines.map((line) => line.trim()));
  }
  const loaded = await loadClassifierRun(flags.checkpoint);
  try {
    const config = loaded.config;
    const vocab = Vocab.fromJSON(loaded.vocab);
    // UTF-16 length: at least the tokens of either kind, without splitting a huge line.
    checkSequenceMemory(texts.map((t) => t.length), config.model, [
      { batchSize: Math.min(256, texts.length), training: false },
    ], { what: `the text to label`, verb: "classify", outputsPerStep: 0 });
    const tops = await predictLabels(loaded.model, vocab, config.data.labels, texts, {
      topK: flags.topK,
      foldAccents: config.data.foldAccents,
    });
    tops.forEach((top, i) => {
      if (flags.json) emitJson({ event: "predict", text: texts[i], top });
      else {
        const list = top.map((t) => `${t.label} ${(100 * t.probability).toFixed(1)}%`).join(", ");
        console.log(`${texts[i]}: ${list}`);
      }
    });
    return 0;
  } finally {
    loaded.model.dispose();
  }
}

if (import.meta.main) await runMain(main);
