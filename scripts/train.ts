/**
 * `deno task train`: trains a recurrent language model on a corpus and writes
 * a run directory (last and best checkpoints, metrics.jsonl, perplexity.svg).
 *
 * Every check (flags, run directory, corpus, minibatch sizes, memory) runs
 * before anything is written, and nothing is written before the first
 * checkpoint, so a run that fails early leaves its directory as it found it.
 *
 * @module
 */
import { emitJson, flagsOrHelp, info, runMain } from "./_cli.ts";
import { checkResumeFlags, configFromFlags, TRAIN_FLAGS, type TrainFlags } from "./_train_flags.ts";
import { resumingText } from "./_loop.ts";
import { fitRun, type OpenedRun, openTrainingRun, runBasics, runOptimizer } from "./_fit_run.ts";
import { describeBackend } from "../lib/tf.ts";
import { startBackend } from "./_backend.ts";
import { LanguageModel } from "../lib/lm/model.ts";
import { disposeStates } from "../lib/cells/state.ts";
import type { FitPosition } from "../lib/training/fit.ts";
import { lmEpochMetrics, lmFitParts } from "../lib/lm/fit.ts";
import { lmBatches, loadLmCorpus } from "../lib/lm/data.ts";
import { Vocab } from "../lib/corpus/vocab.ts";
import { LM_RUN, lmHistory, type LmRunConfig, lmRunWriter } from "../lib/lm/run.ts";
import type { TrainSettings } from "../lib/training/settings.ts";
import { prefixTokens, sampleText } from "../lib/lm/sample.ts";
import { asciiLine } from "../lib/training/plot.ts";
import { checkMemory, memoryLimit } from "../lib/training/memory.ts";
import { estimateTrainingMemory } from "../lib/lm/memory.ts";

export { TRAIN_FLAGS };

/** Runs `deno task train` with the given arguments; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const flags = flagsOrHelp(
    TRAIN_FLAGS,
    args,
    "deno task train",
    "Train a recurrent language model.",
  );
  if (!flags) return 0;
  const backend = await startBackend(flags.backend, flags.threads);
  using opened = await openTrainingRun(args, flags, LM_RUN);
  const { out, resumed, settings } = opened;
  let owned = true; // the resumed model and optimizer, until train() takes them
  try {
    if (resumed) {
      checkResumeFlags(args, flags, resumed.config);
      if (nothingLeft(out, settings, resumed.position, flags)) return 0;
    }
    owned = false;
    return await train(flags, opened, backend);
  } finally {
    if (resumed && owned) {
      resumed.model.dispose();
      resumed.optimizer.dispose();
      disposeStates(resumed.position.state);
    }
  }
}

type Backend = Awaited<ReturnType<typeof startBackend>>;

/**
 * On --resume of a finished run: says so, and how to extend it; true when
 * there is nothing left to do.
 */
function nothingLeft(
  out: string,
  settings: TrainSettings,
  position: FitPosition,
  flags: TrainFlags,
): boolean {
  const epochs = settings.epochs!;
  const patience = settings.patience ?? 0;
  const done = position.epoch - 1;
  const best = position.best;
  const early = position.step === 0 && patience > 0 && best !== undefined &&
    done - best.epoch >= patience;
  if (done < epochs && !early) return false;
  const why = early
    ? `it stopped early after epoch ${done}: no better validation perplexity than ` +
      `${best!.value.toFixed(3)} (epoch ${best!.epoch}) for ${patience} epochs; to go on, ` +
      `raise --patience (0 never stops)${done < epochs ? "" : ` and --epochs`}`
    : `it has finished all ${epochs} epochs; to train further, give the new total, e.g. ` +
      `--resume ${out} --epochs ${epochs + 10}`;
  if (flags.json) {
    emitJson({ event: "nothing-to-do", checkpoint: `${out}/checkpoint`, epochs: done });
  }
  info(`Nothing to resume in ${out}: ${why}`);
  return true;
}

async function train(
  flags: TrainFlags,
  opened: OpenedRun<LanguageModel, LmRunConfig>,
  backend: Backend,
): Promise<number> {
  const { out, resumed, settings } = opened;
  const log = flags.json ? () => {} : info;
  // Every check before anything is built or written.
  const fresh = resumed ? undefined : configFromFlags(flags, 1);
  const corpus = await loadLmCorpus(
    resumed?.config.corpus ?? fresh!.corpus,
    resumed?.config.train ?? fresh!.train,
    { vocab: resumed ? Vocab.fromJSON(resumed.vocab) : undefined, checksum: flags.checksum },
  ).catch((error) => {
    if (resumed) {
      resumed.model.dispose();
      resumed.optimizer.dispose();
      disposeStates(resumed.position.state);
    }
    throw error;
  });
  const base = resumed
    ? { ...resumed.config, model: resumed.model.config }
    : configFromFlags(flags, corpus.vocab.size);
  const config: LmRunConfig = { ...base, train: { ...base.train, ...settings } };
  const { batchSize, numSteps } = config.train;
  let model = resumed?.model;
  let optimizer = resumed?.optimizer;
  try {
    if (flags.sampleEvery > 0) prefixTokens(corpus.vocab, flags.prefix);
    const estimate = estimateTrainingMemory(config.model, { ...config.train });
    checkMemory(
      estimate.totalBytes,
      memoryLimit(backend.name),
      `a ${config.model.cell} model of hidden size ${config.model.hiddenSize} ` +
        `(${estimate.parameters.toLocaleString("en")} parameters) on ${backend.name}`,
    );
    model ??= new LanguageModel(config.model);
    const trained = model;
    const optimized = runOptimizer(resumed, config.train);
    optimizer = optimized.optimizer;
    if (config.model.bidirectional) {
      info(
        "warning: a bidirectional model sees the future while training, so its low perplexity " +
          "does not mean it can generate text",
      );
    }
    const epochs = settings.epochs!;
    log(
      `corpus ${corpus.source}: ${corpus.tokens} ${corpus.vocab.token} tokens, vocabulary ` +
        `${corpus.vocab.size}, ${corpus.train.length} train / ${corpus.valid.length} valid; ` +
        `backend ${describeBackend(backend)}` +
        (resumed ? `; ${resumingText(resumed.position, epochs)}` : ""),
    );
    const run = lmRunWriter(out, config, corpus.vocab, {
      history: resumed?.history,
      overwrite: flags.overwrite,
    });
    const started = performance.now();
    const elapsed = () => (performance.now() - started) / 1000;
    const { sampling } = config.train;
    const { exitCode, earlyStop } = await fitRun(model, {
      ...runBasics(run, { model, ...optimized }, flags, settings, resumed?.position),
      ...lmFitParts(model, { sampling, valid: corpus.valid, batchSize, numSteps }),
      batches: (_epoch, rng) => lmBatches(corpus.train, config.train, rng),
      stepText: (loss) => `ppl ${Math.exp(loss).toFixed(2)}`,
      report: (core) => {
        const metrics = lmEpochMetrics(core);
        return {
          row: {
            event: "epoch",
            ...metrics,
            elapsed: elapsed(),
            backend: describeBackend(backend),
          },
          line: `epoch ${metrics.epoch}: train ppl ${metrics.trainPerplexity.toFixed(3)}` +
            (metrics.validPerplexity ? `, valid ppl ${metrics.validPerplexity.toFixed(3)}` : "") +
            `, ${Math.round(metrics.tokensPerSec)} tokens/s`,
        };
      },
      afterEpoch: async (epoch) => {
        const every = flags.sampleEvery;
        if (every === 0 || (epoch % every !== 0 && epoch !== epochs)) return;
        const text = await sampleText(trained, corpus.vocab, flags.prefix, {
          length: 50,
          seed: config.train.seed,
        });
        if (flags.json) emitJson({ event: "sample", epoch, text });
        else console.log(`  ${JSON.stringify(text)}`);
      },
    });
    if (exitCode !== undefined) return exitCode;
    const history = lmHistory(run.history);
    const last = history.at(-1);
    const best = earlyStop ?? bestOf(history);
    const done = {
      event: "done",
      checkpoint: run.checkpointDir,
      best: best ? run.bestDir : undefined,
      epochs: history.length,
      trainPerplexity: last?.trainPerplexity,
      validPerplexity: last?.validPerplexity,
      bestEpoch: best?.epoch,
      bestValidPerplexity: best?.value,
      stoppedEarly: earlyStop !== undefined,
      seconds: elapsed(),
      backend: describeBackend(backend),
    };
    if (flags.json) emitJson(done);
    else {
      if (earlyStop) {
        info(
          `stopped early: no better validation perplexity for ${settings.patience} epochs ` +
            `(best ${earlyStop.value.toFixed(3)} at epoch ${earlyStop.epoch})`,
        );
      }
      closingChart(history);
      if (best) {
        console.log(
          `best: ${run.bestDir} (epoch ${best.epoch}, valid ppl ${best.value.toFixed(3)}; ` +
            `evaluate and sample use it)`,
        );
      }
      console.log(`checkpoint: ${run.checkpointDir}`);
    }
    return 0;
  } finally {
    corpus.close();
    model?.dispose();
    optimizer?.dispose();
  }
}

/** The epoch with the lowest validation perplexity in a history. */
function bestOf(
  history: readonly { epoch: number; validPerplexity?: number | null }[],
): { epoch: number; value: number } | undefined {
  let best: { epoch: number; value: number } | undefined;
  for (const { epoch, validPerplexity: value } of history) {
    if (typeof value === "number" && Number.isFinite(value) && (!best || value < best.value)) {
      best = { epoch, value };
    }
  }
  return best;
}

/** Train (and validation) perplexity by epoch on stderr, when there are two epochs or more. */
function closingChart(history: readonly { trainPerplexity: number; validPerplexity?: number }[]) {
  const drawable = history.filter((m) => Number.isFinite(m.trainPerplexity));
  if (drawable.length < 2) return;
  const train = drawable.map((m) => m.trainPerplexity);
  const valid = drawable.map((m) => m.validPerplexity);
  const both = valid.every((v): v is number => typeof v === "number" && Number.isFinite(v));
  const color = Deno.stderr.isTerminal() && !Deno.env.get("NO_COLOR");
  const chart = both
    ? asciiLine([train, valid], { height: 8, colors: color ? ["blue", "red"] : undefined })
    : asciiLine(train, { height: 8 });
  const legend = both
    ? color
      ? "perplexity by epoch: \x1b[34mtrain\x1b[0m, \x1b[31mvalid\x1b[0m"
      : `perplexity by epoch: train (ends ${train.at(-1)!.toFixed(2)}), valid (ends ${
        valid.at(-1)!.toFixed(2)
      })`
    : "train perplexity by epoch";
  info(`${legend}\n${chart}`);
}

if (import.meta.main) await runMain(main);
