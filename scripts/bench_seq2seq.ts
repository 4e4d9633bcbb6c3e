/**
 * `deno task bench seq2seq`: the encoder-decoder in d2l's configuration
 * (2-layer GRU, 256 wide, dropout 0.2, batch 128, 9 steps, the first 512
 * fra-eng pairs): training speed in target tokens per second beside the
 * PyTorch peer (`scripts/torch_seq2seq.py`, same model and batches) in one
 * run, and decoding speed (sentences per second, greedy and beam 4) on the
 * 128 validation sentences.
 *
 * @module
 */
import { defineFlags, emitJson, flagsOrHelp, info, positiveInteger } from "./_cli.ts";
import { BACKEND_FLAG, JSON_FLAG, THREADS_FLAG } from "./_task_flags.ts";
import { describeBackend } from "../lib/tf.ts";
import { UsageError } from "../lib/errors.ts";
import { Rng } from "../lib/rng.ts";
import { makeOptimizer } from "../lib/training/train.ts";
import { ATTENTION_KINDS, type AttentionKind, seq2seqConfig } from "../lib/seq2seq/config.ts";
import { Seq2Seq } from "../lib/seq2seq/model.ts";
import { preparePairData } from "../lib/seq2seq/dataset.ts";
import { pairBatches, targetTokens } from "../lib/seq2seq/data.ts";
import { translateIds } from "../lib/seq2seq/decode.ts";
import { PEER_FLAGS, peerRuns, torchRows } from "./_bench_torch.ts";
import { startBenchBackend, timeTrainSteps } from "./_bench_common.ts";
import { probeCores, reportCores } from "./_core_probe.ts";

/** The flags of `deno task bench seq2seq`. */
export const BENCH_SEQ2SEQ_FLAGS = defineFlags(
  [
    {
      name: "data",
      type: "string",
      default: "data/fra-eng/fra.txt",
      valueName: "path",
      help: "Pair file.",
    },
    {
      name: "attention",
      type: "string",
      default: "none,additive",
      valueName: "list",
      help: `Comma-separated attention kinds to time (${ATTENTION_KINDS.join(", ")}).`,
    },
    {
      name: "steps",
      type: "integer",
      default: 12,
      validate: positiveInteger,
      help: "Timed training minibatches.",
    },
    {
      name: "warmup",
      type: "integer",
      default: 2,
      validate: positiveInteger,
      help: "Untimed first minibatches.",
    },
    {
      name: "torch",
      type: "string",
      default: "scripts/torch_seq2seq.py",
      help: "The PyTorch peer, or none.",
    },
    {
      name: "torch-epochs",
      type: "integer",
      default: 2,
      validate: positiveInteger,
      help: "Epochs the PyTorch peer trains (its speed is their mean).",
    },
    ...PEER_FLAGS,
    BACKEND_FLAG,
    THREADS_FLAG,
    JSON_FLAG,
  ] as const,
);

/** One row of the bench. */
interface Row {
  event: "bench";
  impl: "project" | "torch";
  attention: AttentionKind;
  backend: string;
  targetTokensPerSec: number;
  greedySentencesPerSec?: number;
  beam4SentencesPerSec?: number;
}

/** Runs the seq2seq bench; prints one row per implementation and attention kind. */
export async function benchSeq2seq(args: string[]): Promise<void> {
  const flags = flagsOrHelp(
    BENCH_SEQ2SEQ_FLAGS,
    args,
    "deno task bench seq2seq",
    "Encoder-decoder training and decoding speed, d2l configuration.",
  );
  if (!flags) return;
  const kinds = flags.attention.split(",").map((k) => k.trim()) as AttentionKind[];
  const bad = kinds.find((k) => !ATTENTION_KINDS.includes(k));
  if (bad !== undefined) {
    throw new UsageError(
      `Invalid value "${bad}" for --attention: expected ${ATTENTION_KINDS.join(", ")}`,
    );
  }
  const backend = await startBenchBackend(flags);
  const coresBefore = probeCores();
  const data = await preparePairData({
    source: flags.data,
    token: "word",
    normalize: "d2l",
    minFreq: 2,
    split: "d2l",
    numTrain: 512,
    numValid: 128,
    validFraction: 0.1,
    numSteps: 9,
    seed: 0,
  });
  const rows: Row[] = [];
  for (const attention of kinds) {
    rows.push({
      event: "bench",
      impl: "project",
      attention,
      backend: describeBackend(backend),
      ...await timeProject(data, attention, flags),
    });
    if (flags.torch !== "none" && attention !== "dot") {
      for (const { python, threads, backend } of await peerRuns(flags)) {
        rows.push({
          event: "bench",
          impl: "torch",
          attention,
          backend,
          targetTokensPerSec: await timeTorch({ ...flags, python }, attention, threads),
        });
      }
    }
  }
  const cores = { coresBefore, coresAfter: probeCores() };
  for (const row of rows) {
    if (flags.json) emitJson({ ...row, ...cores });
    else {
      const decoding = row.greedySentencesPerSec === undefined
        ? ""
        : `; decoding ${Math.round(row.greedySentencesPerSec)} sentences/s greedy, ${
          Math.round(row.beam4SentencesPerSec!)
        } beam 4`;
      console.log(
        `${row.impl.padEnd(8)} attention ${row.attention.padEnd(8)}: ${
          Math.round(row.targetTokensPerSec)
        } target tokens/s${decoding} (${row.backend})`,
      );
    }
  }
  for (const attention of kinds) {
    const ours = rows.find((r) => r.impl === "project" && r.attention === attention);
    for (const peer of rows.filter((r) => r.impl === "torch" && r.attention === attention)) {
      info(
        `${attention}: project / ${peer.backend} ${
          (ours!.targetTokensPerSec / peer.targetTokensPerSec).toFixed(2)
        }x`,
      );
    }
  }
  reportCores(cores, info);
}

/** Our training and decoding speed for one attention kind. */
async function timeProject(
  data: Awaited<ReturnType<typeof preparePairData>>,
  attention: AttentionKind,
  flags: { steps: number; warmup: number },
) {
  const model = new Seq2Seq(seq2seqConfig({
    sourceVocabSize: data.vocabs.source.size,
    targetVocabSize: data.vocabs.target.size,
    attention,
  }));
  const optimizer = makeOptimizer("adam", 0.005);
  try {
    const rng = new Rng(0);
    // A fresh shuffle each time the epoch's batches run out.
    let batches = pairBatches(data.train, { batchSize: 128, numSteps: 9, rng });
    const batchAt = (i: number) => {
      if (i % batches.length === 0 && i > 0) {
        batches = pairBatches(data.train, { batchSize: 128, numSteps: 9, rng });
      }
      return batches[i % batches.length];
    };
    const { items: tokens, seconds } = await timeTrainSteps(
      model,
      optimizer,
      batchAt,
      targetTokens,
      flags,
    );
    const sources = data.valid.map((p) => p.source);
    const decodeRate = async (beam: number) => {
      const start = performance.now();
      await translateIds(model, sources, { beam, batchSize: 128 });
      return sources.length / ((performance.now() - start) / 1000);
    };
    return {
      targetTokensPerSec: tokens / seconds,
      greedySentencesPerSec: await decodeRate(1),
      beam4SentencesPerSec: await decodeRate(4),
    };
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}

/** The PyTorch peer's mean training speed over `--torch-epochs`. */
async function timeTorch(
  flags: { torch: string; python: string; data: string; torchEpochs: number },
  attention: AttentionKind,
  threads: number,
): Promise<number> {
  const args = [
    ...[flags.torch, "--data", flags.data, "--attention", attention],
    ...["--epochs", String(flags.torchEpochs), "--threads", String(threads)],
  ];
  const rows = await torchRows(flags.python, args).catch((error) => {
    throw new Error(`the PyTorch peer failed: ${error.message}`);
  });
  return rows.find((r) => r.event === "evaluate")!.targetTokensPerSecond;
}
