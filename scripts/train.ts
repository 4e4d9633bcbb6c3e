/**
 * `deno task train`: trains a recurrent language model on a corpus and writes
 * a run directory (checkpoint, metrics.jsonl, perplexity.svg).
 *
 * @module
 */
import { emitJson, helpText, info, parseFlags, Progress, runMain } from "./_cli.ts";
import { checkResumeFlags, configFromFlags, TRAIN_FLAGS } from "./_train_flags.ts";
import { describeBackend, useBackend } from "../lib/tf.ts";
import { LanguageModel } from "../lib/lm/model.ts";
import { makeOptimizer, type OptimizerName } from "../lib/training/train.ts";
import { disposeStates } from "../lib/cells/state.ts";
import { fit, NonFiniteLossError } from "../lib/training/fit.ts";
import type { Sampling } from "../lib/corpus/batches.ts";
import { Rng } from "../lib/rng.ts";
import { loadCorpus } from "../lib/corpus/load.ts";
import { randomBatches, sequentialBatches } from "../lib/corpus/batches.ts";
import { checkRunDir, loadResumableRun, RunWriter } from "../lib/lm/run.ts";
import { sampleText } from "../lib/lm/sample.ts";
import { asciiLine } from "../lib/training/plot.ts";

export { TRAIN_FLAGS };

/** Runs `deno task train` with the given arguments; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: flags } = parseFlags(TRAIN_FLAGS, args);
  if (flags.help) {
    console.log(helpText("deno task train", "Train a recurrent language model.", TRAIN_FLAGS));
    return 0;
  }
  const backend = await useBackend(flags.backend);
  const log = flags.json ? () => {} : info;
  const resumed = flags.resume === undefined ? undefined : await loadResumableRun(flags.resume);
  if (resumed) checkResumeFlags(args, flags, resumed.config);
  const out = flags.resume ?? flags.out;
  await checkRunDir(out);
  const corpusSettings = resumed?.config.corpus ?? configFromFlags(flags, 1).corpus;
  const corpus = await loadCorpus({
    ...corpusSettings,
    checksum: flags.checksum,
    vocab: resumed?.vocab,
  });
  const config = resumed?.config ?? configFromFlags(flags, corpus.vocab.size);
  const model = resumed?.model ?? new LanguageModel(config.model);
  const optimizerName = (resumed?.optimizerName ?? config.train.optimizer) as OptimizerName;
  const optimizer = resumed?.optimizer ?? makeOptimizer(optimizerName, config.train.lr as number);
  const stop = watchSignals();
  try {
    if (config.model.bidirectional) {
      info(
        "warning: a bidirectional model sees the future while training, so its low perplexity " +
          "does not mean it can generate text",
      );
    }
    const batchShape = { batchSize: config.train.batchSize, numSteps: config.train.numSteps };
    const sampling = config.train.sampling as Sampling;
    const sampler = sampling === "sequential" ? sequentialBatches : randomBatches;
    log(
      `corpus ${corpus.source}: ${corpus.tokens} ${corpus.vocab.token} tokens, vocabulary ` +
        `${corpus.vocab.size}, ${corpus.train.length} train / ${corpus.valid.length} valid; ` +
        `backend ${describeBackend(backend)}` +
        (resumed
          ? `; resuming at epoch ${resumed.position.epoch}, step ${resumed.position.step}`
          : ""),
    );
    const run = await RunWriter.create(out, config, resumed?.history);
    const rng = new Rng(config.train.seed as number);
    const started = performance.now();
    const elapsed = () => (performance.now() - started) / 1000;
    let bar: Progress | undefined;
    const result = await fit(model, {
      epochs: flags.epochs,
      start: resumed?.position,
      optimizer,
      clip: config.train.clip as number,
      sampling,
      rng,
      batches: (_epoch, epochRng) => sampler(corpus.train, { ...batchShape, rng: epochRng }),
      valid: corpus.valid,
      ...batchShape,
      onNonFinite: flags.onNan,
      onStep: ({ epoch, step, steps, loss }) => {
        bar ??= new Progress(steps, { label: `epoch ${epoch}`, silent: flags.json });
        bar.update(step, `ppl ${Math.exp(loss).toFixed(2)}`);
      },
      onSkip: ({ epoch, step, loss }, rate) =>
        info(
          `warning: skipped epoch ${epoch}, step ${step} (loss ${loss}); learning rate now ${rate}`,
        ),
      shouldStop: () => stop.signal !== undefined,
      onEpoch: async (metrics, next) => {
        bar?.stop();
        bar = undefined;
        const row = {
          event: "epoch",
          ...metrics,
          elapsed: elapsed(),
          backend: describeBackend(backend),
        };
        await run.save(model, { optimizer, name: optimizerName }, corpus.vocab, next, row);
        if (flags.json) emitJson(row);
        else {
          console.log(
            `epoch ${metrics.epoch}: train ppl ${metrics.trainPerplexity.toFixed(3)}` +
              (metrics.validPerplexity ? `, valid ppl ${metrics.validPerplexity.toFixed(3)}` : "") +
              `, ${Math.round(metrics.tokensPerSec)} tokens/s`,
          );
        }
        const every = flags.sampleEvery;
        if (every > 0 && (metrics.epoch % every === 0 || metrics.epoch === flags.epochs)) {
          const text = await sampleText(model, corpus.vocab, flags.prefix, {
            length: 50,
            seed: config.train.seed as number,
          });
          if (flags.json) emitJson({ event: "sample", epoch: metrics.epoch, text });
          else console.log(`  ${JSON.stringify(text)}`);
        }
      },
    }).catch((error) => {
      bar?.stop();
      if (error instanceof NonFiniteLossError) {
        const kept = run.history.length > 0
          ? `the last good checkpoint (epoch ${
            run.history.at(-1)!.epoch
          }) is in ${run.checkpointDir}`
          : "no checkpoint was written";
        throw new Error(`${error.message}; ${kept}; --on-nan skip drops such steps instead`);
      }
      throw error;
    });
    bar?.stop();
    if (result.stoppedAt) {
      await run.save(model, { optimizer, name: optimizerName }, corpus.vocab, result.stoppedAt);
      disposeStates(result.stoppedAt.state);
      const where = `epoch ${result.stoppedAt.epoch}, step ${result.stoppedAt.step}`;
      if (flags.json) {
        emitJson({
          event: "interrupted",
          signal: stop.signal,
          checkpoint: run.checkpointDir,
          epoch: result.stoppedAt.epoch,
          step: result.stoppedAt.step,
        });
      }
      info(
        `${stop.signal}: stopped at ${where}; checkpoint in ${run.checkpointDir} (continue with --resume ${out})`,
      );
      return stop.signal === "SIGINT" ? 130 : 143;
    }
    const last = run.history.at(-1);
    const done = {
      event: "done",
      checkpoint: run.checkpointDir,
      epochs: run.history.length,
      trainPerplexity: last?.trainPerplexity,
      validPerplexity: last?.validPerplexity,
      seconds: elapsed(),
      backend: describeBackend(backend),
    };
    if (flags.json) emitJson(done);
    else {
      const curve = run.history.map((m) => m.trainPerplexity).filter(Number.isFinite);
      if (curve.length > 1) info(`train perplexity by epoch\n${asciiLine(curve, { height: 8 })}`);
      console.log(`checkpoint: ${run.checkpointDir}`);
    }
    return 0;
  } finally {
    stop.dispose();
    corpus.close();
    model.dispose();
    optimizer.dispose();
  }
}

/** Turns SIGINT and SIGTERM into a flag the training loop reads between steps. */
function watchSignals(): { signal?: "SIGINT" | "SIGTERM"; dispose(): void } {
  const watch: { signal?: "SIGINT" | "SIGTERM"; dispose(): void } = { dispose: () => {} };
  const handlers = (["SIGINT", "SIGTERM"] as const).map((name) => {
    const handler = () => {
      if (watch.signal) Deno.exit(name === "SIGINT" ? 130 : 143); // a second signal: give up now
      watch.signal = name;
      info(`${name}: finishing the current step, then saving a checkpoint (again to quit now)`);
    };
    Deno.addSignalListener(name, handler);
    return [name, handler] as const;
  });
  watch.dispose = () => handlers.forEach(([name, h]) => Deno.removeSignalListener(name, h));
  return watch;
}

if (import.meta.main) await runMain(main);
