/**
 * Flags and plumbing that the tasks on labelled sequences share (`deno task
 * classify`, `generate`, and `translate`'s sizes): the data set, the
 * recurrent sizes, the memory check, the run's config and writer, and the
 * batches `fit` draws.
 *
 * @module
 */
import { inRange, positiveInteger } from "./_cli.ts";
import { CELL_KINDS, type CellKind, GATE_COUNT } from "../lib/cells/types.ts";
import {
  checkMemory,
  estimateSequenceMemory,
  memoryLimit,
  type SequenceMemoryShape,
} from "../lib/training/memory.ts";
import { tf } from "../lib/tf.ts";
import { TOKEN_KINDS } from "../lib/corpus/tokenize.ts";
import {
  type Dataset,
  type DatasetSettings,
  prepareDataset,
} from "../lib/supervised/labelled_set.ts";
import { Vocab } from "../lib/corpus/vocab.ts";
import type { TrainableModel } from "../lib/training/model.ts";
import { type LoadModelOptions, type PlotDrawer, RunWriter } from "../lib/training/run.ts";
import type { LabelledRunConfig } from "../lib/training/task_run.ts";
import type { Rng } from "../lib/rng.ts";
import type { TrainSettings } from "../lib/training/settings.ts";
import { type OpenedRun, openTrainingRun } from "./_fit_run.ts";

/** Data flags: where the examples are and how they are split. */
export const DATA_FLAGS = [
  {
    name: "data",
    type: "string",
    default: "data/names",
    help: "A folder of <label>.txt files (one example per line) or a label<TAB>text file.",
  },
  { name: "token", type: "choice", choices: TOKEN_KINDS, default: "char", help: "Token level." },
  { name: "fold-accents", type: "boolean", help: "Fold accents: NFD, drop combining marks." },
  {
    name: "valid-fraction",
    type: "number",
    default: 0.1,
    validate: inRange(0, 1, { hiOpen: true }),
    help: "Share of each label held out for validation (the best epoch).",
  },
  {
    name: "test-fraction",
    type: "number",
    default: 0.1,
    validate: inRange(0, 1, { hiOpen: true }),
    help: "Share of each label held out for the final test.",
  },
] as const;

/** Model-size flags of both models. */
export const SIZE_FLAGS = [
  { name: "cell", type: "choice", choices: CELL_KINDS, default: "gru", help: "Recurrent cell." },
  {
    name: "embedding-size",
    type: "integer",
    default: 32,
    validate: positiveInteger,
    help: "Token embedding width.",
  },
  {
    name: "hidden-size",
    type: "integer",
    default: 128,
    validate: positiveInteger,
    help: "Hidden units per layer and direction.",
  },
  {
    name: "layers",
    type: "integer",
    default: 1,
    validate: positiveInteger,
    help: "Stacked layers.",
  },
  {
    name: "dropout",
    type: "number",
    default: 0,
    validate: inRange(0, 1, { hiOpen: true }),
    help: "Dropout between layers (and before the classifier's output), training only.",
  },
] as const;

/** The data settings from parsed flags. */
export function datasetSettings(flags: {
  data: string;
  token: "char" | "word";
  foldAccents: boolean;
  validFraction: number;
  testFraction: number;
  seed: number;
}): DatasetSettings {
  return {
    source: flags.data,
    token: flags.token,
    foldAccents: flags.foldAccents,
    validFraction: flags.validFraction,
    testFraction: flags.testFraction,
    seed: flags.seed,
    dedupe: true,
  };
}

/** An array of batches with the `numBatches` that `fit` asks for. */
export function epochOf<B>(batches: B[]): B[] & { numBatches: number } {
  return Object.assign(batches, { numBatches: batches.length });
}

/**
 * The training batches of each epoch: the train split, shuffled anew by the
 * epoch's random stream, so that a resumed run draws the epochs it would have.
 *
 * @param batcher the task's batcher (e.g. `classifierBatches`): sequences,
 *   their labels, the indices to batch, the batch size and the shuffle.
 */
export function trainEpochs<B>(
  set: Dataset,
  batchSize: number,
  batcher: (
    sequences: readonly Int32Array[],
    labels: ArrayLike<number>,
    indices: readonly number[],
    options: { batchSize: number; rng: Rng },
  ) => B[],
): (epoch: number, rng: Rng) => B[] & { numBatches: number } {
  return (_epoch, rng) =>
    epochOf(batcher(set.sequences, set.labels, set.split.train, { batchSize, rng }));
}

/** The recurrent widths of a model config, as {@linkcode checkSequenceMemory} reads them. */
export interface RecurrentWidths {
  cell: CellKind;
  embeddingSize: number;
  hiddenSize: number;
  layers: number;
  bidirectional?: boolean;
}

/**
 * Refuses, before a model runs, sequences too long (or a batch too large) for
 * the memory of the current backend: every batch is padded to its longest
 * sequence, so the longest one with a full batch beside it is the estimate
 * (`estimateSequenceMemory`). One line, exit 2, with the estimate and the limit.
 *
 * @param lengths each sequence's length in steps.
 * @param passes the batch size and kind of each pass that will run over them.
 * @param what the thing refused, e.g. `a classifier on "data/names"`.
 * @param verb e.g. `train`, `classify`, `translate`.
 */
export function checkSequenceMemory(
  lengths: Iterable<number>,
  model: RecurrentWidths,
  passes: readonly { batchSize: number; training: boolean }[],
  options: { what: string; verb: string; outputsPerStep: number },
): void {
  let longest = 0;
  for (const n of lengths) longest = Math.max(longest, n);
  const base: Omit<SequenceMemoryShape, "batchSize" | "training"> = {
    steps: longest,
    inputSize: model.embeddingSize,
    hiddenSize: model.hiddenSize,
    layers: model.layers,
    gates: GATE_COUNT[model.cell],
    directions: model.bidirectional ? 2 : 1,
    outputsPerStep: options.outputsPerStep,
  };
  const needed = Math.max(...passes.map((p) => estimateSequenceMemory({ ...base, ...p })));
  const batch = Math.max(...passes.map((p) => p.batchSize));
  checkMemory(
    needed,
    memoryLimit(tf.getBackend()),
    `${options.what}: its longest sequence has ${longest.toLocaleString("en-US")} steps ` +
      `and a batch of up to ${batch} is padded to it`,
    options.verb,
  );
}

/**
 * Opens a labelled task's run directory (see `openTrainingRun`: lock,
 * `--resume`/`--overwrite`, the settings) and prepares its data set: a
 * resumed run's saved settings and vocabulary, else the flags'. A failure
 * after the directory is opened releases it and the resumed model.
 */
export async function openLabelledRun<
  M extends TrainableModel<unknown>,
  C extends { train: TrainSettings; data: DatasetSettings },
>(
  args: readonly string[],
  flags: Parameters<typeof openTrainingRun>[1] & Parameters<typeof datasetSettings>[0],
  kind: LoadModelOptions<M, C>,
): Promise<OpenedRun<M, C> & { set: Dataset }> {
  const opened = await openTrainingRun(args, flags, kind);
  const { resumed } = opened;
  try {
    const set = await prepareDataset(
      resumed?.config.data ?? datasetSettings(flags),
      resumed ? Vocab.fromJSON(resumed.vocab) : undefined,
    );
    return Object.assign(opened, { set });
  } catch (error) {
    resumed?.model.dispose();
    resumed?.optimizer.dispose();
    opened[Symbol.dispose]();
    throw error;
  }
}

/**
 * The config of a labelled run: a resumed run keeps its saved model and data
 * (the vocabulary and labels its weights were trained on) and takes the run's
 * training settings; a new run gets the model config `fresh` makes and the
 * data set's settings and labels.
 */
export function labelledRunConfig<M>(
  run: OpenedRun<unknown, LabelledRunConfig<M>> & { set: Dataset },
  fresh: () => M,
): LabelledRunConfig<M> {
  const { resumed, settings, set } = run;
  if (resumed) return { ...resumed.config, train: settings };
  return { model: fresh(), data: { ...set.settings, labels: set.data.labels }, train: settings };
}

/**
 * The writer of a labelled run's directory: its config, the data set's
 * vocabulary (saved with every checkpoint) and, resumed, the history it
 * appends to.
 */
export function labelledRunWriter<C>(
  run: OpenedRun<unknown, C> & { set: Dataset },
  config: C,
  options: { kind: string; overwrite: boolean; plots?: Record<string, PlotDrawer> },
): RunWriter<C> {
  return RunWriter.open(run.out, {
    config,
    kind: options.kind,
    vocab: run.set.vocab.toJSON(),
    history: run.resumed?.history,
    overwrite: options.overwrite,
    plots: options.plots,
  });
}
