/**
 * Test helpers: checkpoints of every model kind written the way the
 * training scripts write them (run config, vocabulary, weights), from
 * models with random weights, so export runs on them without training.
 *
 * @module
 */
import { saveCheckpoint } from "../../lib/training/checkpoint.ts";
import { Vocab } from "../../lib/corpus/vocab.ts";
import { labelledVocab } from "../../lib/supervised/labelled.ts";
import { LanguageModel, type ModelConfig, modelConfig } from "../../lib/lm/model.ts";
import {
  type ClassifierConfig,
  classifierConfig,
  SequenceClassifier,
} from "../../lib/classify/model.ts";
import {
  ConditionedGenerator,
  type GeneratorConfig,
  generatorConfig,
} from "../../lib/generate/model.ts";
import { Seq2Seq } from "../../lib/seq2seq/model.ts";
import { type Seq2SeqConfig, seq2seqConfig } from "../../lib/seq2seq/config.ts";
import { PAIR_RESERVED } from "../../lib/supervised/pairs.ts";
import type { TrainableModel } from "../../lib/training/model.ts";
import { randomize } from "./_ort.ts";

/** Characters of the test vocabularies. */
export const LETTERS = "abcdefghijklmnopqrstuvwxyz".split("");
/** Labels of the test classifier. */
export const LABELS = ["English", "French", "German"];

async function save(dir: string, model: TrainableModel<unknown>, config: unknown, vocab: unknown) {
  await saveCheckpoint(`${dir}/checkpoint`, {
    kind: model.kind,
    weights: model.namedWeights(),
    config: config as never,
    vocab: vocab as never,
    progress: {},
  });
  model.dispose();
}

/** A classifier run directory over {@linkcode LETTERS}; returns its config. */
export async function classifierRun(
  dir: string,
  options: Partial<ClassifierConfig> = {},
): Promise<ClassifierConfig> {
  const vocab = labelledVocab([LETTERS.join("")]);
  const config = classifierConfig({ vocabSize: vocab.size, numLabels: LABELS.length, ...options });
  const model = new SequenceClassifier(config);
  randomize(model.trainableVariables, 1);
  const data = { token: "char", foldAccents: true, labels: LABELS };
  await save(dir, model, { model: config, data }, vocab.toJSON());
  return config;
}

/** A language model run directory over {@linkcode LETTERS}. */
export async function lmRun(dir: string, options: Partial<ModelConfig> = {}): Promise<ModelConfig> {
  const vocab = Vocab.build(LETTERS, { reserved: [] });
  const config = modelConfig({ vocabSize: vocab.size, cell: "lstm", hiddenSize: 8, ...options });
  const model = new LanguageModel(config);
  randomize(model.trainableVariables, 2);
  await save(
    dir,
    model,
    { model: config, corpus: { token: "char", normalize: "d2l" } },
    vocab.toJSON(),
  );
  return config;
}

/** A generator run directory. */
export async function generatorRun(
  dir: string,
  options: Partial<GeneratorConfig> = {},
): Promise<GeneratorConfig> {
  const vocab = labelledVocab([LETTERS.join("")]);
  const config = generatorConfig({
    vocabSize: vocab.size,
    numConditions: LABELS.length,
    ...options,
  });
  const model = new ConditionedGenerator(config);
  await save(dir, model, {
    model: config,
    data: { token: "char", foldAccents: false, labels: LABELS },
  }, vocab.toJSON());
  return config;
}

/** A seq2seq run directory. */
export async function seq2seqRun(
  dir: string,
  options: Partial<Seq2SeqConfig> = {},
  sizes: { source: number; target: number } = { source: 30, target: 40 },
): Promise<Seq2SeqConfig> {
  const words = (n: number, stem: string) => Array.from({ length: n }, (_, i) => `${stem}${i}`);
  const opts = { token: "word", reserved: PAIR_RESERVED } as const;
  const source = Vocab.build(words(sizes.source - 4, "s"), opts);
  const target = Vocab.build(words(sizes.target - 4, "t"), opts);
  const config = seq2seqConfig({
    sourceVocabSize: source.size,
    targetVocabSize: target.size,
    ...options,
  });
  const model = new Seq2Seq(config);
  const data = { token: "word", normalize: "d2l" };
  await save(dir, model, { model: config, data }, {
    source: source.toJSON(),
    target: target.toJSON(),
  });
  return config;
}
