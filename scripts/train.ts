/**
 * `deno task train`: trains a recurrent language model on a corpus and writes
 * a run directory (checkpoint, metrics.jsonl, perplexity.svg).
 *
 * @module
 */
import {
  defineFlags,
  emitJson,
  helpText,
  info,
  inRange,
  nonNegative,
  nonNegativeInteger,
  parseFlags,
  positive,
  positiveInteger,
  Progress,
  runMain,
} from "./_cli.ts";
import { BACKEND_FLAG, BATCH_SIZE_FLAG, JSON_FLAG, NUM_STEPS_FLAG } from "./_flags.ts";
import { describeBackend, useBackend } from "../lib/tf.ts";
import { CELL_KINDS } from "../lib/cells/types.ts";
import { LanguageModel, modelConfig } from "../lib/model.ts";
import { disposeStates, makeOptimizer, type OptimizerName, OPTIMIZERS } from "../lib/train.ts";
import { fit, NonFiniteLossError, SAMPLINGS } from "../lib/fit.ts";
import { UsageError } from "../lib/errors.ts";
import type { Nonlinearity } from "../lib/cells/types.ts";
import type { InitName } from "../lib/cells/init.ts";
import type { Sampling } from "../lib/corpus/batches.ts";
import { Rng } from "../lib/rng.ts";
import { loadCorpus } from "../lib/corpus/load.ts";
import { NORMALIZATIONS, TOKEN_KINDS } from "../lib/corpus/tokenize.ts";
import { randomBatches, sequentialBatches } from "../lib/corpus/batches.ts";
import { checkRunDir, loadResumableRun, type RunConfig, RunWriter } from "../lib/run.ts";
import { sampleText } from "../lib/sample.ts";
import { asciiLine } from "../lib/plot.ts";

/** The flags of `deno task train`, with their defaults. */
export const TRAIN_FLAGS = defineFlags(
  [
    // data
    {
      name: "corpus",
      type: "string",
      default: "data/timemachine.txt",
      help: "Corpus: a path, an http(s) URL or - for stdin.",
    },
    { name: "checksum", type: "string", help: "Expected SHA-256 or SHA-1 (hex) of a URL corpus." },
    { name: "token", type: "choice", choices: TOKEN_KINDS, default: "char", help: "Token level." },
    {
      name: "normalize",
      type: "choice",
      choices: NORMALIZATIONS,
      default: "d2l",
      help: "d2l: letters only, lower-cased; raw: every character.",
    },
    {
      name: "min-freq",
      type: "integer",
      default: 0,
      validate: nonNegativeInteger,
      help: "Tokens seen fewer times become <unk>.",
    },
    {
      name: "valid-fraction",
      type: "number",
      default: 0.1,
      validate: inRange(0, 1, { hiOpen: true }),
      help: "Share of the corpus held out (its end) for validation.",
    },
    // model
    { name: "cell", type: "choice", choices: CELL_KINDS, default: "lstm", help: "Recurrent cell." },
    {
      name: "nonlinearity",
      type: "choice",
      choices: ["tanh", "relu"],
      default: "tanh",
      help: "rnn activation.",
    },
    {
      name: "reset-after",
      type: "boolean",
      help: "gru: reset gate after the recurrent matmul (PyTorch/cuDNN).",
    },
    {
      name: "hidden-size",
      type: "integer",
      default: 256,
      validate: positiveInteger,
      help: "Hidden units per layer.",
    },
    {
      name: "layers",
      type: "integer",
      default: 1,
      validate: positiveInteger,
      help: "Stacked recurrent layers.",
    },
    {
      name: "bidirectional",
      type: "boolean",
      help: "Also read backwards (sees the future: cannot generate).",
    },
    {
      name: "dropout",
      type: "number",
      default: 0,
      validate: inRange(0, 1, { hiOpen: true }),
      help: "Dropout between layers.",
    },
    {
      name: "embedding-size",
      type: "integer",
      default: 0,
      validate: nonNegativeInteger,
      help: "Embedding width; 0 feeds one-hot vectors.",
    },
    {
      name: "init",
      type: "choice",
      choices: ["normal", "xavier", "orthogonal"],
      default: "normal",
      help: "Weight initialiser.",
    },
    // optimisation
    BATCH_SIZE_FLAG,
    NUM_STEPS_FLAG,
    {
      name: "epochs",
      type: "integer",
      default: 20,
      validate: positiveInteger,
      help: "Passes over the training split.",
    },
    {
      name: "optimizer",
      type: "choice",
      choices: OPTIMIZERS,
      default: "adam",
      help: "sgd (d2l) or adam.",
    },
    { name: "lr", type: "number", default: 0.01, validate: positive, help: "Learning rate." },
    {
      name: "clip",
      type: "number",
      default: 1,
      validate: nonNegative,
      help: "Largest global gradient norm; 0 disables.",
    },
    {
      name: "sampling",
      type: "choice",
      choices: SAMPLINGS,
      default: "sequential",
      help: "Minibatches: sequential (state carried) or random.",
    },
    {
      name: "seed",
      type: "integer",
      default: 0,
      help: "Seed of weights, minibatches and samples.",
    },
    BACKEND_FLAG,
    // output
    {
      name: "out",
      type: "string",
      default: "runs/last",
      help: "Run directory (checkpoint, metrics, plot).",
    },
    {
      name: "sample-every",
      type: "integer",
      default: 10,
      validate: nonNegativeInteger,
      help: "Print a sample every N epochs; 0 never.",
    },
    { name: "prefix", type: "string", default: "time traveller", help: "Prefix of those samples." },
    {
      name: "resume",
      type: "string",
      valueName: "<dir>",
      help: "Continue the run in this directory where its checkpoint stopped (it is also --out).",
    },
    {
      name: "on-nan",
      type: "choice",
      choices: ["stop", "skip"],
      default: "stop",
      help:
        "A NaN/Inf loss or gradient: stop (keep the last checkpoint) or skip the step and halve the lr.",
    },
    JSON_FLAG,
  ] as const,
);

/** Flags fixed by a checkpoint: `--resume` refuses a different value. */
const FIXED_ON_RESUME: Record<string, (c: RunConfig) => unknown> = {
  corpus: (c) => c.corpus.source,
  token: (c) => c.corpus.token,
  normalize: (c) => c.corpus.normalize,
  "min-freq": (c) => c.corpus.minFreq,
  "valid-fraction": (c) => c.corpus.validFraction,
  cell: (c) => c.model.cell,
  nonlinearity: (c) => c.model.nonlinearity,
  "reset-after": (c) => c.model.resetAfter,
  "hidden-size": (c) => c.model.hiddenSize,
  layers: (c) => c.model.layers,
  bidirectional: (c) => c.model.bidirectional,
  dropout: (c) => c.model.dropout,
  "embedding-size": (c) => c.model.embeddingSize,
  init: (c) => c.model.init,
  "batch-size": (c) => c.train.batchSize,
  "num-steps": (c) => c.train.numSteps,
  optimizer: (c) => c.train.optimizer,
  lr: (c) => c.train.lr,
  clip: (c) => c.train.clip,
  sampling: (c) => c.train.sampling,
  seed: (c) => c.train.seed,
};

type TrainFlags = ReturnType<typeof parseFlags<typeof TRAIN_FLAGS>>["values"];

/** The run's config from the flags of a fresh run. */
function configFromFlags(flags: TrainFlags, vocabSize: number): RunConfig {
  return {
    model: modelConfig({
      vocabSize,
      cell: flags.cell,
      hiddenSize: flags.hiddenSize,
      layers: flags.layers,
      bidirectional: flags.bidirectional,
      dropout: flags.dropout,
      embeddingSize: flags.embeddingSize,
      nonlinearity: flags.nonlinearity as Nonlinearity,
      resetAfter: flags.resetAfter,
      init: flags.init as InitName,
      seed: flags.seed,
    }),
    corpus: {
      source: flags.corpus,
      token: flags.token,
      normalize: flags.normalize,
      minFreq: flags.minFreq,
      validFraction: flags.validFraction,
    },
    train: {
      batchSize: flags.batchSize,
      numSteps: flags.numSteps,
      optimizer: flags.optimizer,
      lr: flags.lr,
      clip: flags.clip,
      sampling: flags.sampling,
      seed: flags.seed,
    },
  };
}

/** Refuses shape-fixing flags given with `--resume` that differ from the checkpoint. */
function checkResumeFlags(args: string[], flags: TrainFlags, config: RunConfig): void {
  for (const [name, saved] of Object.entries(FIXED_ON_RESUME)) {
    const given = args.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    const camel = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const value = (flags as Record<string, unknown>)[camel];
    if (given && value !== saved(config)) {
      throw new UsageError(
        `Cannot resume with --${name} ${JSON.stringify(value)}: the checkpoint was trained ` +
          `with ${JSON.stringify(saved(config))}`,
      );
    }
  }
}

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
