/**
 * A soak run (not a test): trains the d2l character model for a set time,
 * saving a checkpoint every N seconds, and watches the process for leaks.
 *
 * ```sh
 * deno run -A scripts/soak.ts --minutes 30 --checkpoint-every 60 --backend cpu --out runs/soak
 * ```
 *
 * Every `--checkpoint-every` seconds it saves `<out>/checkpoint`, appends a row
 * `{minute, steps, rssMB, numTensors, loss}` to `<out>/soak.jsonl` and prints it
 * (a table, or one JSON object per line with `--json`). At the end it compares
 * the first and last quarter of the rows: RSS (mean) and tfjs tensor count
 * (max). Exit code 1 when the tensor count grew, 0 when it stayed flat (RSS is
 * reported, not judged: allocators keep memory). Ctrl-C ends the run early,
 * with the summary.
 *
 * @module
 */
import {
  appendJsonLine,
  disposeStates,
  LanguageModel,
  loadCorpus,
  makeOptimizer,
  modelConfig,
  Rng,
  saveCheckpoint,
  sequentialBatches,
  type State,
  tf,
  trainStep,
  type TrainStepResult,
} from "../mod.ts";
import { BACKEND_REQUESTS } from "../lib/tf.ts";
import {
  defineFlags,
  emitJson,
  flagsOrHelp,
  info,
  positive,
  positiveInteger,
  runMain,
} from "./_cli.ts";
import { BATCH_SIZE_FLAG, NUM_STEPS_FLAG, THREADS_FLAG } from "./_task_flags.ts";
import { startBackend } from "./_backend.ts";

/** The flags of `scripts/soak.ts`. */
export const SOAK_FLAGS = defineFlags(
  [
    {
      name: "minutes",
      type: "number",
      default: 30,
      validate: positive,
      help: "How long to train.",
    },
    {
      name: "checkpoint-every",
      type: "number",
      default: 60,
      validate: positive,
      help: "Seconds between checkpoints (and rows).",
    },
    {
      name: "corpus",
      type: "string",
      default: "data/timemachine.txt",
      help: "Character corpus.",
    },
    {
      name: "cell",
      type: "choice",
      choices: ["rnn", "gru", "lstm"],
      default: "lstm",
      help: "Cell kind.",
    },
    {
      name: "hidden-size",
      type: "integer",
      default: 64,
      validate: positiveInteger,
      help: "Hidden units.",
    },
    BATCH_SIZE_FLAG,
    NUM_STEPS_FLAG,
    { name: "lr", type: "number", default: 0.01, validate: positive, help: "Adam learning rate." },
    { name: "seed", type: "integer", default: 0, help: "Weights and minibatches." },
    {
      name: "backend",
      type: "choice",
      choices: BACKEND_REQUESTS,
      default: "auto",
      help: "tfjs backend.",
    },
    THREADS_FLAG,
    { name: "out", type: "string", default: "runs/soak", help: "Run directory." },
    { name: "json", type: "boolean", help: "Print one JSON object per line on stdout." },
  ] as const,
);

/** One measurement, taken right after a checkpoint. */
export interface SoakRow {
  minute: number;
  steps: number;
  rssMB: number;
  numTensors: number;
  /** Mean training loss (nats per token) since the previous row. */
  loss: number;
}

/** The verdict over a run's rows. */
export interface SoakSummary {
  event: "summary";
  rows: number;
  steps: number;
  rssFirstMB: number;
  rssLastMB: number;
  rssGrowthMB: number;
  rssFlat: boolean;
  tensorsFirst: number;
  tensorsLast: number;
  tensorsFlat: boolean;
}

/**
 * Compares the first and last quarter of the rows (at least one row each):
 * mean RSS, and the largest tensor count. RSS counts as flat when it grew by
 * less than 10% or 20 MB, whichever is larger.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const row = (numTensors: number) => ({ minute: 0, steps: 0, rssMB: 100, numTensors, loss: 1 });
 * strictEqual(summarize([row(10), row(10), row(10), row(10)]).tensorsFlat, true);
 * strictEqual(summarize([row(10), row(10), row(10), row(11)]).tensorsFlat, false);
 * ```
 */
export function summarize(rows: readonly SoakRow[]): SoakSummary {
  const quarter = Math.max(1, Math.floor(rows.length / 4));
  const first = rows.slice(0, quarter), last = rows.slice(-quarter);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const rssFirstMB = round(mean(first.map((r) => r.rssMB)));
  const rssLastMB = round(mean(last.map((r) => r.rssMB)));
  const rssGrowthMB = round(rssLastMB - rssFirstMB);
  const tensorsFirst = Math.max(...first.map((r) => r.numTensors));
  const tensorsLast = Math.max(...last.map((r) => r.numTensors));
  return {
    event: "summary",
    rows: rows.length,
    steps: rows.at(-1)?.steps ?? 0,
    rssFirstMB,
    rssLastMB,
    rssGrowthMB,
    rssFlat: rssGrowthMB < Math.max(20, rssFirstMB * 0.1),
    tensorsFirst,
    tensorsLast,
    tensorsFlat: tensorsLast <= tensorsFirst,
  };
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Runs the soak with the given arguments; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const flags = flagsOrHelp(
    SOAK_FLAGS,
    args,
    "deno run -A scripts/soak.ts",
    "Train for a while, watch for leaks.",
  );
  if (!flags) return 0;
  const backend = await startBackend(flags.backend, flags.threads);
  const corpus = await loadCorpus({ source: flags.corpus, token: "char", validFraction: 0 });
  const config = modelConfig({
    vocabSize: corpus.vocab.size,
    cell: flags.cell,
    hiddenSize: flags.hiddenSize,
    seed: flags.seed,
  });
  const model = new LanguageModel(config);
  const optimizer = makeOptimizer("adam", flags.lr);
  const rng = new Rng(flags.seed);
  const checkpointDir = `${flags.out}/checkpoint`;
  const log = `${flags.out}/soak.jsonl`;
  let stop = false;
  const onSignal = () => {
    stop = true;
  };
  Deno.addSignalListener("SIGINT", onSignal);
  const rows: SoakRow[] = [];
  let state: State[] | undefined;
  try {
    await Deno.mkdir(flags.out, { recursive: true });
    await Deno.writeTextFile(log, "");
    info(
      `soak: ${config.cell} hidden ${config.hiddenSize} on ${corpus.source} (${corpus.tokens} ` +
        `tokens), ${flags.minutes} min, a checkpoint every ${flags.checkpointEvery} s, ` +
        `backend ${backend.name}`,
    );
    if (!flags.json) console.log("minute    steps   rssMB  numTensors    loss");
    const start = performance.now();
    const end = start + flags.minutes * 60_000;
    let nextCheckpoint = start + flags.checkpointEvery * 1000;
    let steps = 0, lossSum = 0, lossCount = 0;

    const checkpoint = async () => {
      const weights = model.namedWeights();
      const saved = await optimizer.getWeights();
      // The slots are the optimizer's variables; the iteration count is a new scalar.
      const fresh = saved.filter(({ name }) => name === "iter").map(({ tensor }) => tensor);
      const slots = Object.fromEntries(
        saved.map(({ tensor }, i) => [String(i).padStart(4, "0"), tensor]),
      );
      try {
        await saveCheckpoint(checkpointDir, {
          weights,
          optimizer: slots,
          config: { model: config, soak: { lr: flags.lr, batchSize: flags.batchSize } },
          vocab: corpus.vocab.toJSON(),
          progress: { steps, rng: rng.state },
        });
      } finally {
        tf.dispose([...Object.values(weights), ...fresh]);
      }
      const row: SoakRow = {
        minute: round((performance.now() - start) / 60_000, 2),
        steps,
        rssMB: round(Deno.memoryUsage().rss / 2 ** 20),
        numTensors: tf.memory().numTensors,
        loss: round(lossSum / Math.max(1, lossCount), 4),
      };
      lossSum = lossCount = 0;
      rows.push(row);
      await appendJsonLine(log, row);
      if (flags.json) emitJson(row);
      else {
        console.log(
          `${row.minute.toFixed(2).padStart(6)} ${String(row.steps).padStart(8)} ` +
            `${row.rssMB.toFixed(1).padStart(7)} ${String(row.numTensors).padStart(11)} ` +
            `${row.loss.toFixed(4).padStart(7)}`,
        );
      }
    };

    outer: while (!stop) {
      const epoch = sequentialBatches(corpus.train, {
        batchSize: flags.batchSize,
        numSteps: flags.numSteps,
        rng,
      });
      // d2l's sequential sampling: a fresh state each epoch, carried within it.
      disposeStates(state);
      state = undefined;
      for (const batch of epoch) {
        const result: TrainStepResult = trainStep(model, optimizer, batch, state, { clip: 1 });
        disposeStates(state);
        state = result.state;
        const loss = (await result.loss.data())[0];
        tf.dispose([result.loss, result.gradNorm]);
        steps++;
        lossSum += loss;
        lossCount++;
        const now = performance.now();
        if (now >= nextCheckpoint || now >= end) {
          await checkpoint();
          nextCheckpoint += flags.checkpointEvery * 1000;
          while (nextCheckpoint <= performance.now()) {
            nextCheckpoint += flags.checkpointEvery * 1000;
          }
        }
        if (now >= end || stop) break outer;
      }
    }
    if (lossCount > 0) await checkpoint(); // stopped by Ctrl-C between rows
    const summary = summarize(rows);
    if (flags.json) emitJson(summary);
    else {
      console.log(
        `RSS ${summary.rssFlat ? "flat" : "GREW"}: ${summary.rssFirstMB} MB (first quarter) -> ` +
          `${summary.rssLastMB} MB (last quarter), ${summary.rssGrowthMB >= 0 ? "+" : ""}` +
          `${summary.rssGrowthMB} MB`,
      );
      console.log(
        `tensors ${summary.tensorsFlat ? "flat" : "GREW"}: ${summary.tensorsFirst} -> ` +
          `${summary.tensorsLast} over ${summary.steps} steps, ${summary.rows} rows`,
      );
    }
    return summary.tensorsFlat ? 0 : 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    disposeStates(state);
    model.dispose();
    optimizer.dispose();
    corpus.close();
  }
}

if (import.meta.main) await runMain(main);
