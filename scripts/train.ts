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
import { describeBackend, useBackend } from "../lib/tf.ts";
import { CELL_KINDS } from "../lib/cells/types.ts";
import { LanguageModel, modelConfig } from "../lib/model.ts";
import { makeOptimizer, OPTIMIZERS } from "../lib/train.ts";
import { fit, SAMPLINGS } from "../lib/fit.ts";
import { Rng } from "../lib/rng.ts";
import { loadCorpus } from "../lib/corpus/load.ts";
import { NORMALIZATIONS, TOKEN_KINDS } from "../lib/corpus/tokenize.ts";
import { randomBatches, sequentialBatches } from "../lib/corpus/batches.ts";
import { RunWriter } from "../lib/run.ts";
import { sampleText } from "../lib/sample.ts";

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
    {
      name: "batch-size",
      type: "integer",
      default: 32,
      validate: positiveInteger,
      help: "Sequences per minibatch.",
    },
    {
      name: "num-steps",
      type: "integer",
      default: 35,
      validate: positiveInteger,
      help: "Time steps per sequence.",
    },
    {
      name: "epochs",
      type: "integer",
      default: 40,
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
    {
      name: "backend",
      type: "choice",
      choices: ["auto", "webgpu", "wasm", "cpu"],
      default: "auto",
      help: "tfjs backend.",
    },
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
      name: "json",
      type: "boolean",
      help: "Print one JSON object per line on stdout and nothing else.",
    },
  ] as const,
);

/** Runs `deno task train` with the given arguments; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: flags } = parseFlags(TRAIN_FLAGS, args);
  if (flags.help) {
    console.log(helpText("deno task train", "Train a recurrent language model.", TRAIN_FLAGS));
    return 0;
  }
  const backend = await useBackend(flags.backend);
  const log = flags.json ? () => {} : info;
  const corpus = await loadCorpus({
    source: flags.corpus,
    checksum: flags.checksum,
    token: flags.token,
    normalize: flags.normalize,
    minFreq: flags.minFreq,
    validFraction: flags.validFraction,
  });
  try {
    const batchShape = { batchSize: flags.batchSize, numSteps: flags.numSteps };
    const config = modelConfig({
      vocabSize: corpus.vocab.size,
      cell: flags.cell,
      hiddenSize: flags.hiddenSize,
      layers: flags.layers,
      bidirectional: flags.bidirectional,
      dropout: flags.dropout,
      embeddingSize: flags.embeddingSize,
      nonlinearity: flags.nonlinearity as "tanh" | "relu",
      resetAfter: flags.resetAfter,
      init: flags.init as "normal",
      seed: flags.seed,
    });
    if (config.bidirectional) {
      info(
        "warning: a bidirectional model sees the future while training, so its low perplexity " +
          "does not mean it can generate text",
      );
    }
    const rng = new Rng(flags.seed);
    const sampler = flags.sampling === "sequential" ? sequentialBatches : randomBatches;
    log(
      `corpus ${corpus.source}: ${corpus.tokens} ${flags.token} tokens, vocabulary ` +
        `${corpus.vocab.size}, ${corpus.train.length} train / ${corpus.valid.length} valid; ` +
        `backend ${describeBackend(backend)}`,
    );
    const model = new LanguageModel(config);
    const optimizer = makeOptimizer(flags.optimizer, flags.lr);
    const run = await RunWriter.create(flags.out, {
      model: config,
      corpus: {
        source: flags.corpus,
        token: flags.token,
        normalize: flags.normalize,
        minFreq: flags.minFreq,
        validFraction: flags.validFraction,
      },
      train: {
        ...batchShape,
        optimizer: flags.optimizer,
        lr: flags.lr,
        clip: flags.clip,
        sampling: flags.sampling,
        seed: flags.seed,
        epochs: flags.epochs,
      },
    });
    const started = performance.now();
    let bar: Progress | undefined;
    const history = await fit(model, {
      epochs: flags.epochs,
      optimizer,
      clip: flags.clip,
      sampling: flags.sampling,
      batches: () => sampler(corpus.train, { ...batchShape, rng }),
      valid: corpus.valid,
      ...batchShape,
      onStep: ({ epoch, step, steps, loss }) => {
        bar ??= new Progress(steps, { label: `epoch ${epoch}`, silent: flags.json });
        bar.update(step, `ppl ${Math.exp(loss).toFixed(2)}`);
      },
      onEpoch: async (metrics) => {
        bar?.stop();
        bar = undefined;
        const row = {
          event: "epoch",
          ...metrics,
          elapsed: (performance.now() - started) / 1000,
          backend: describeBackend(backend),
        };
        await run.saveEpoch(model, optimizer, corpus.vocab, row);
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
            seed: flags.seed,
          });
          if (flags.json) emitJson({ event: "sample", epoch: metrics.epoch, text });
          else console.log(`  ${JSON.stringify(text)}`);
        }
      },
    });
    const last = history.at(-1);
    const done = {
      event: "done",
      checkpoint: run.checkpointDir,
      epochs: history.length,
      trainPerplexity: last?.trainPerplexity,
      validPerplexity: last?.validPerplexity,
      seconds: (performance.now() - started) / 1000,
      backend: describeBackend(backend),
    };
    if (flags.json) emitJson(done);
    else console.log(`checkpoint: ${run.checkpointDir}`);
    model.dispose();
    optimizer.dispose();
    return 0;
  } finally {
    corpus.close();
  }
}

if (import.meta.main) await runMain(main);
