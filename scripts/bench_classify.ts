/**
 * `deno task bench classify`: training speed of the sequence classifier
 * (examples per second) beside its PyTorch peer (`scripts/torch_classify.py`,
 * the same model on the same split and length-bucketed batches), in one run.
 *
 * The peer trains two epochs of `(warmup + steps) / 2` minibatches and times
 * the second, so with the defaults (150 and 150) both sides warm up on as many
 * minibatches as they time. The warm-up matters for the project: V8 compiles
 * the step's JavaScript to optimised code over the first 50-100 steps (an
 * epoch of the names is 251), and timing the first few dozen steps measures
 * that compilation (~20% slower), not training.
 *
 * @module
 */
import { defineFlags, emitJson, flagsOrHelp, info, positiveInteger } from "./_cli.ts";
import { BACKEND_FLAG, JSON_FLAG, THREADS_FLAG } from "./_task_flags.ts";
import { describeBackend } from "../lib/tf.ts";
import { CELL_KINDS } from "../lib/cells/types.ts";
import { Rng } from "../lib/rng.ts";
import { makeOptimizer } from "../lib/training/train.ts";
import { prepareDataset } from "../lib/supervised/labelled_set.ts";
import { classifierConfig, SequenceClassifier } from "../lib/classify/model.ts";
import { classifierBatches } from "../lib/classify/data.ts";
import { PEER_FLAGS, peerRuns, torchRows } from "./_bench_torch.ts";
import { startBenchBackend, timeTrainSteps } from "./_bench_common.ts";
import { probeCores, reportCores } from "./_core_probe.ts";

/** The flags of `deno task bench classify`. */
export const BENCH_CLASSIFY_FLAGS = defineFlags(
  [
    { name: "data", type: "string", default: "data/names", help: "Labelled folder." },
    { name: "cell", type: "choice", choices: CELL_KINDS, default: "gru", help: "Recurrent cell." },
    {
      name: "hidden-size",
      type: "integer",
      default: 128,
      validate: positiveInteger,
      help: "Hidden units.",
    },
    {
      name: "embedding-size",
      type: "integer",
      default: 32,
      validate: positiveInteger,
      help: "Embedding width.",
    },
    {
      name: "batch-size",
      type: "integer",
      default: 64,
      validate: positiveInteger,
      help: "Examples per batch.",
    },
    {
      name: "steps",
      type: "integer",
      default: 150,
      validate: positiveInteger,
      help: "Timed minibatches.",
    },
    {
      name: "warmup",
      type: "integer",
      default: 150,
      validate: positiveInteger,
      help: "Untimed first minibatches (the PyTorch peer warms up on (warmup + steps) / 2).",
    },
    {
      name: "torch",
      type: "string",
      default: "scripts/torch_classify.py",
      help: "The PyTorch peer, or none.",
    },
    ...PEER_FLAGS,
    BACKEND_FLAG,
    THREADS_FLAG,
    JSON_FLAG,
  ] as const,
);

/** Runs the classify bench; prints one row per implementation and the ratio. */
export async function benchClassify(args: string[]): Promise<void> {
  const flags = flagsOrHelp(
    BENCH_CLASSIFY_FLAGS,
    args,
    "deno task bench classify",
    "Classifier training speed.",
  );
  if (!flags) return;
  const backend = await startBenchBackend(flags);
  const coresBefore = probeCores();
  const set = await prepareDataset({
    source: flags.data,
    token: "char",
    foldAccents: false,
    validFraction: 0.1,
    testFraction: 0.1,
    seed: 0,
  });
  const model = new SequenceClassifier(classifierConfig({
    vocabSize: set.vocab.size,
    numLabels: set.data.labels.length,
    cell: flags.cell,
    hiddenSize: flags.hiddenSize,
    embeddingSize: flags.embeddingSize,
  }));
  const optimizer = makeOptimizer("adam", 0.003);
  const batches = classifierBatches(set.sequences, set.labels, set.split.train, {
    batchSize: flags.batchSize,
    rng: new Rng(0),
  });
  const { items: examples, seconds } = await timeTrainSteps(
    model,
    optimizer,
    (i) => batches[i % batches.length],
    (batch) => batch.batchSize,
    flags,
  );
  model.dispose();
  optimizer.dispose();
  const shape = { cell: flags.cell, hiddenSize: flags.hiddenSize, batchSize: flags.batchSize };
  const rows = [{
    event: "bench",
    impl: "project",
    ...shape,
    backend: describeBackend(backend),
    examplesPerSec: examples / seconds,
  }];
  if (flags.torch !== "none") {
    const peers = await peerRuns(flags);
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/split.json`, JSON.stringify(set.record));
      for (const { python, threads, backend } of peers) {
        const args = [
          ...[flags.torch, "--data", flags.data, "--split", `${dir}/split.json`],
          ...["--cell", flags.cell, "--hidden-size", String(flags.hiddenSize)],
          ...["--embedding-size", String(flags.embeddingSize)],
          ...["--batch-size", String(flags.batchSize), "--epochs", "2"],
          ...["--max-batches", String(Math.ceil((flags.warmup + flags.steps) / 2))],
          ...["--threads", String(threads)],
        ];
        const epochs = await torchRows(python, args)
          .catch((error) => {
            throw new Error(`the PyTorch peer failed: ${error.message}`);
          })
          .then((rows) => rows.filter((r) => r.event === "epoch"));
        rows.push({
          event: "bench",
          impl: "torch",
          ...shape,
          backend,
          examplesPerSec: epochs.at(-1)!.examplesPerSec,
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  const cores = { coresBefore, coresAfter: probeCores() };
  for (const row of rows) {
    if (flags.json) emitJson({ ...row, ...cores });
    else {console.log(
        `${row.impl.padEnd(8)} ${row.cell} h${row.hiddenSize} b${row.batchSize}: ${
          Math.round(row.examplesPerSec)
        } examples/s (${row.backend})`,
      );}
  }
  for (const peer of rows.slice(1)) {
    info(
      `project / ${peer.backend}: ${(rows[0].examplesPerSec / peer.examplesPerSec).toFixed(2)}x`,
    );
  }
  reportCores(cores, info);
}
