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
import { emitJson, helpText, info, parseFlags, runMain } from "./_cli.ts";
import { checkResumeFlags, configFromFlags, TRAIN_FLAGS } from "./_train_flags.ts";
import { loopOptions, resumingText, RunProgress, runSchedule, stoppedText } from "./_loop.ts";
import { lockRunDir } from "../lib/training/run_lock.ts";
import { watchSignals } from "./_signals.ts";
import { describeBackend } from "../lib/tf.ts";
import { startBackend } from "./_backend.ts";
import { LanguageModel } from "../lib/lm/model.ts";
import { makeOptimizer } from "../lib/training/train.ts";
import { disposeStates } from "../lib/cells/state.ts";
import { type FitPosition, NonFiniteLossError } from "../lib/training/fit.ts";
import { fitLanguageModel, type LmEpochMetrics } from "../lib/lm/fit.ts";
import { Rng } from "../lib/rng.ts";
import { loadCorpus } from "../lib/corpus/load.ts";
import { minimumTokens, randomBatches, sequentialBatches } from "../lib/corpus/batches.ts";
import { checkRunDir, lmRunWriter, loadResumableRun, type RunConfig } from "../lib/lm/run.ts";
import { prefixTokens, sampleText } from "../lib/lm/sample.ts";
import { asciiLine } from "../lib/training/plot.ts";
import { checkMemory, memoryLimit } from "../lib/training/memory.ts";
import { estimateTrainingMemory } from "../lib/lm/memory.ts";
import { UsageError } from "../lib/errors.ts";

export { TRAIN_FLAGS };

/** Runs `deno task train` with the given arguments; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: flags } = parseFlags(TRAIN_FLAGS, args);
  if (flags.help) {
    console.log(helpText("deno task train", "Train a recurrent language model.", TRAIN_FLAGS));
    return 0;
  }
  if (flags.resume !== undefined && flags.overwrite) {
    throw new UsageError("Cannot train with --resume and --overwrite: choose one");
  }
  const backend = await startBackend(flags.backend, flags.threads);
  const resumed = flags.resume === undefined ? undefined : await loadResumableRun(flags.resume);
  let owned = true; // the resumed model and optimizer, until the try below takes them
  try {
    if (resumed) checkResumeFlags(args, flags, resumed.config);
    const out = flags.resume ?? flags.out;
    await checkRunDir(out, {
      mode: resumed ? "resume" : flags.overwrite ? "overwrite" : "new",
      kind: "lm",
    });
    if (resumed && nothingLeft(out, resumed.config, resumed.position, args, flags)) return 0;
    using _lock = await lockRunDir(out);
    owned = false;
    return await train(args, flags, out, resumed, backend);
  } finally {
    if (resumed && owned) {
      resumed.model.dispose();
      resumed.optimizer.dispose();
      disposeStates(resumed.position.state);
    }
  }
}

type Flags = ReturnType<typeof parseFlags<typeof TRAIN_FLAGS>>["values"];
type Resumed = Awaited<ReturnType<typeof loadResumableRun>>;
type Backend = Awaited<ReturnType<typeof startBackend>>;

/** The run's total epochs and patience: the saved ones on --resume unless given anew. */
function schedule(args: string[], flags: Flags, saved?: RunConfig): [number, number] {
  // Runs saved before --patience existed never stopped early.
  const { epochs, patience } = runSchedule(args, flags, saved?.train, 0);
  return [epochs, patience];
}

/**
 * On --resume of a finished run: says so, and how to extend it; true when
 * there is nothing left to do.
 */
function nothingLeft(
  out: string,
  config: RunConfig,
  position: FitPosition,
  args: string[],
  flags: Flags,
): boolean {
  const [epochs, patience] = schedule(args, flags, config);
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
  args: string[],
  flags: Flags,
  out: string,
  resumed: Resumed | undefined,
  backend: Backend,
): Promise<number> {
  const log = flags.json ? () => {} : info;
  const [epochs, patience] = schedule(args, flags, resumed?.config);
  const corpusSettings = resumed?.config.corpus ?? configFromFlags(flags, 1).corpus;
  const corpus = await loadCorpus({
    ...corpusSettings,
    checksum: flags.checksum,
    vocab: resumed?.vocab,
  }).catch((error) => {
    if (resumed) {
      resumed.model.dispose();
      resumed.optimizer.dispose();
      disposeStates(resumed.position.state);
    }
    throw error;
  });
  const base = resumed?.config ?? configFromFlags(flags, corpus.vocab.size);
  const config: RunConfig = { ...base, train: { ...base.train, epochs, patience } };
  const { batchSize, numSteps } = config.train;
  let model = resumed?.model;
  let optimizer = resumed?.optimizer;
  const progress = new RunProgress(epochs, flags.json);
  const stop = watchSignals(() => progress.stop());
  try {
    // Every check before anything is built or written.
    if (corpus.train.length < minimumTokens(batchSize, numSteps)) {
      throw new UsageError(
        `Cannot train with --batch-size ${batchSize} --num-steps ${numSteps}: the training ` +
          `split has ${corpus.train.length} tokens, expected at least ` +
          `${minimumTokens(batchSize, numSteps)} (batch size x steps + steps)`,
      );
    }
    if (flags.sampleEvery > 0) prefixTokens(corpus.vocab, flags.prefix);
    const estimate = estimateTrainingMemory(config.model, { ...config.train });
    checkMemory(
      estimate.totalBytes,
      memoryLimit(backend.name),
      `a ${config.model.cell} model of hidden size ${config.model.hiddenSize} ` +
        `(${estimate.parameters.toLocaleString("en")} parameters) on ${backend.name}`,
    );
    model ??= new LanguageModel(config.model);
    optimizer ??= makeOptimizer(config.train.optimizer, config.train.lr);
    const optimizerName = resumed?.optimizerName ?? config.train.optimizer;
    if (config.model.bidirectional) {
      info(
        "warning: a bidirectional model sees the future while training, so its low perplexity " +
          "does not mean it can generate text",
      );
    }
    const sampler = config.train.sampling === "sequential" ? sequentialBatches : randomBatches;
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
    const trained = model;
    const result = await fitLanguageModel(model, {
      epochs,
      patience,
      start: resumed?.position,
      optimizer,
      clip: config.train.clip,
      sampling: config.train.sampling,
      rng: new Rng(config.train.seed),
      batches: (_epoch, rng) => sampler(corpus.train, { batchSize, numSteps, rng }),
      valid: corpus.valid,
      batchSize,
      numSteps,
      onNonFinite: flags.onNan,
      ...loopOptions(config.train, flags.checkpointEvery, async (position) => {
        await run.save(trained, { optimizer: optimizer!, name: optimizerName }, position);
      }),
      onStep: ({ epoch, step, steps, loss }) => {
        if (stop.signal) return; // the acknowledgement stays on screen
        progress.step(epoch, step, steps, `ppl ${Math.exp(loss).toFixed(2)}`);
      },
      onSkip: ({ epoch, step, loss }, rate) =>
        info(
          `warning: skipped epoch ${epoch}, step ${step} (loss ${loss}); learning rate now ${rate}`,
        ),
      shouldStop: () => stop.signal !== undefined,
      onEpoch: async (metrics, next, { improved }) => {
        progress.epochDone(metrics.epoch);
        const row = {
          event: "epoch",
          ...metrics,
          elapsed: elapsed(),
          backend: describeBackend(backend),
        };
        await run.save(trained, { optimizer: optimizer!, name: optimizerName }, next, {
          row,
          best: improved,
        });
        if (flags.json) emitJson(row);
        else {
          console.log(
            `epoch ${metrics.epoch}: train ppl ${metrics.trainPerplexity.toFixed(3)}` +
              (metrics.validPerplexity ? `, valid ppl ${metrics.validPerplexity.toFixed(3)}` : "") +
              `, ${Math.round(metrics.tokensPerSec)} tokens/s` + (improved ? " (best)" : ""),
          );
        }
        const every = flags.sampleEvery;
        if (every > 0 && (metrics.epoch % every === 0 || metrics.epoch === epochs)) {
          const text = await sampleText(trained, corpus.vocab, flags.prefix, {
            length: 50,
            seed: config.train.seed,
          });
          if (flags.json) emitJson({ event: "sample", epoch: metrics.epoch, text });
          else console.log(`  ${JSON.stringify(text)}`);
        }
      },
    }).catch((error) => {
      progress.stop();
      if (error instanceof NonFiniteLossError) {
        const last = run.history.at(-1);
        const kept = last
          ? `the last good checkpoint (epoch ${last.epoch}) is in ${run.checkpointDir}`
          : `no checkpoint was written (${out} is as it was)`;
        // --on-nan skip drops bad steps, not a diverged epoch: then a lower --lr helps.
        const advice = flags.onNan === "skip" || error.detail !== undefined
          ? "try a lower --lr or a smaller --clip"
          : "--on-nan skip drops such steps instead";
        throw new Error(`${error.message}; ${kept}; ${advice}`);
      }
      throw error;
    });
    progress.stop();
    if (result.stoppedAt) {
      await run.save(model, { optimizer, name: optimizerName }, result.stoppedAt);
      disposeStates(result.stoppedAt.state);
      if (flags.json) {
        emitJson({
          event: "interrupted",
          signal: stop.signal,
          checkpoint: run.checkpointDir,
          epoch: result.stoppedAt.epoch,
          step: result.stoppedAt.step,
        });
      }
      info(stoppedText(stop.signal, result.stoppedAt, result.stoppedSteps, run.checkpointDir, out));
      return stop.signal === "SIGINT" ? 130 : 143;
    }
    const history = run.history as unknown as (LmEpochMetrics & { validPerplexity?: number })[];
    const last = history.at(-1);
    const best = result.earlyStop ?? bestOf(history);
    const done = {
      event: "done",
      checkpoint: run.checkpointDir,
      best: best ? run.bestDir : undefined,
      epochs: history.length,
      trainPerplexity: last?.trainPerplexity,
      validPerplexity: last?.validPerplexity,
      bestEpoch: best?.epoch,
      bestValidPerplexity: best?.value,
      stoppedEarly: result.earlyStop !== undefined,
      seconds: elapsed(),
      backend: describeBackend(backend),
    };
    if (flags.json) emitJson(done);
    else {
      if (result.earlyStop) {
        info(
          `stopped early: no better validation perplexity for ${patience} epochs ` +
            `(best ${result.earlyStop.value.toFixed(3)} at epoch ${result.earlyStop.epoch})`,
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
    stop.dispose();
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
