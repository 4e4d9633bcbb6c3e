/**
 * The training core trains, checkpoints and resumes a model that is not a
 * language model: a tiny sequence classifier built here from `recurrent()`.
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { recurrent } from "../../lib/layers/stack.ts";
import type { LossOptions, LossResult, TrainableModel } from "../../lib/training/model.ts";
import { type EpochMetrics, fit, type FitPosition } from "../../lib/training/fit.ts";
import { makeOptimizer } from "../../lib/training/train.ts";
import { loadModel, loadResumable, RunWriter } from "../../lib/training/run.ts";
import { loadResumableRun, loadTrainedModel } from "../../lib/lm/run.ts";
import { Rng } from "../../lib/rng.ts";
import { UsageError } from "../../lib/errors.ts";

/** A batch of sequences `[T, B, D]` (time-major) and one class per sequence. */
interface ClassBatch {
  xs: Float32Array;
  labels: Int32Array;
  steps: number;
  batchSize: number;
}

const D = 3, H = 5, CLASSES = 2;

/** Classifies a sequence by the GRU's last output through a dense layer. */
class ToyClassifier implements TrainableModel<ClassBatch> {
  readonly kind = "toy-classifier";
  readonly config = { kind: "toy-classifier", hidden: H };
  readonly rnn = recurrent({ cell: "gru", inputSize: D, hiddenSize: H, init: "xavier", seed: 4 });
  readonly w = tf.variable(tf.randomNormal([H, CLASSES], 0, 0.3, "float32", 5));
  readonly b = tf.variable(tf.zeros([CLASSES]));
  get trainableVariables(): tf.Variable[] {
    return [...this.rnn.trainableVariables, this.w, this.b];
  }
  logits(batch: ClassBatch): tf.Tensor2D {
    return tf.tidy(() => {
      const xs = tf.tensor3d(batch.xs, [batch.steps, batch.batchSize, D]); // [T, B, D]
      const { outputs, state } = this.rnn.forward(xs);
      tf.dispose(state.flatMap((s) => Object.values(s)));
      const last = tf.squeeze(tf.slice(outputs, [batch.steps - 1, 0, 0], [1, -1, -1]), [0]); // [B, H]
      return tf.add(tf.matMul(last, this.w), this.b) as tf.Tensor2D; // [B, C]
    });
  }
  loss(batch: ClassBatch, _options: LossOptions): LossResult {
    const loss = tf.tidy(() =>
      tf.losses.softmaxCrossEntropy(tf.oneHot(batch.labels, CLASSES), this.logits(batch))
    ) as tf.Scalar;
    return { loss, count: batch.batchSize };
  }
  namedWeights(): Record<string, tf.Tensor> {
    const named: Record<string, tf.Tensor> = { w: this.w.clone(), b: this.b.clone() };
    for (const [layer, weights] of Object.entries(this.rnn.getWeights())) {
      for (const [name, t] of Object.entries(weights)) named[`rnn/${layer}/${name}`] = t;
    }
    return named;
  }
  setNamedWeights(named: Record<string, tf.Tensor>): void {
    const layers: Record<string, Record<string, tf.Tensor>> = {};
    for (const [key, t] of Object.entries(named)) {
      const match = /^rnn\/([^/]+)\/(.+)$/.exec(key);
      if (match) (layers[match[1]] ??= {})[match[2]] = t;
    }
    this.rnn.setWeights(layers);
    this.w.assign(named.w as tf.Tensor2D);
    this.b.assign(named.b as tf.Tensor1D);
  }
  dispose(): void {
    this.rnn.dispose();
    tf.dispose([this.w, this.b]);
  }
}

/** Sequences whose class is whether their first feature sums above zero. */
function makeData(seed: number, n: number, steps: number): ClassBatch[] {
  const rng = new Rng(seed);
  const batches: ClassBatch[] = [];
  for (let i = 0; i < n; i++) {
    const batchSize = 4;
    const xs = Float32Array.from({ length: steps * batchSize * D }, () => rng.normal());
    const labels = Int32Array.from({ length: batchSize }, (_, b) => {
      let sum = 0;
      for (let t = 0; t < steps; t++) sum += xs[(t * batchSize + b) * D];
      return sum > 0 ? 1 : 0;
    });
    batches.push({ xs, labels, steps, batchSize });
  }
  return batches;
}

const TRAIN = makeData(1, 6, 4);
const VALID = makeData(2, 2, 4);

async function accuracy(model: ToyClassifier): Promise<number> {
  let right = 0, total = 0;
  for (const batch of VALID) {
    const predicted = await tf.tidy(() => tf.argMax(model.logits(batch), 1)).data();
    predicted.forEach((p, i) => right += p === batch.labels[i] ? 1 : 0);
    total += batch.batchSize;
  }
  return right / total;
}

/** Trains with checkpoints after each epoch; stops after `stopAfter` epochs when given. */
async function train(
  dir: string,
  model: ToyClassifier,
  options: { epochs: number; stopAfter?: number; resume?: boolean },
): Promise<EpochMetrics[]> {
  const resumed = options.resume
    ? await loadResumable(dir, { kind: "toy-classifier", build: () => new ToyClassifier() })
    : undefined;
  if (resumed) {
    model.dispose();
    model = resumed.model;
  }
  const optimizer = resumed?.optimizer ?? makeOptimizer("adam", 0.05);
  const run = RunWriter.open(dir, {
    config: model.config,
    kind: model.kind,
    history: resumed?.history,
  });
  let epochsDone = 0;
  const { history } = await fit(model, {
    epochs: options.epochs,
    start: resumed?.position,
    optimizer,
    rng: new Rng(7),
    batches: (_epoch, rng) => {
      const order = [...TRAIN];
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      return Object.assign(order, { numBatches: order.length });
    },
    validate: async (m) => ({ validAccuracy: await accuracy(m as ToyClassifier) }),
    monitor: { metric: "validAccuracy", mode: "max" },
    onEpoch: async (metrics, next: FitPosition, info) => {
      const row = { epoch: metrics.epoch, trainLoss: metrics.trainLoss, ...metrics.validation };
      await run.save(model, { optimizer, name: "adam" }, next, { row, best: info.improved });
      epochsDone++;
    },
    shouldStop: () => options.stopAfter !== undefined && epochsDone >= options.stopAfter,
  });
  model.dispose();
  optimizer.dispose();
  return history;
}

const exact = (h: EpochMetrics[]) => h.map((m) => [m.epoch, m.trainLoss, m.validation]);

Deno.test("fit() trains a non-LM model; it checkpoints and resumes bit for bit", async () => {
  const dir = await Deno.makeTempDir();
  const straight = await train(`${dir}/a`, new ToyClassifier(), { epochs: 4 });
  ok(straight[3].trainLoss < straight[0].trainLoss, `${straight.map((m) => m.trainLoss)}`);
  const first = await train(`${dir}/b`, new ToyClassifier(), { epochs: 4, stopAfter: 2 });
  strictEqual(first.length, 2);
  const rest = await train(`${dir}/b`, new ToyClassifier(), { epochs: 4, resume: true });
  deepStrictEqual(exact([...first, ...rest]), exact(straight), "identical losses and accuracies");
  const lines = (await Deno.readTextFile(`${dir}/b/metrics.jsonl`)).trim().split("\n");
  strictEqual(lines.length, 4);
  ok(JSON.parse(lines[0]).validAccuracy !== undefined);
  await Deno.stat(`${dir}/b/loss.svg`);
  const best = await loadModel(`${dir}/b`, {
    kind: "toy-classifier",
    build: () => new ToyClassifier(),
    which: "best",
  });
  ok(best.path.endsWith("/best"));
  best.model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a non-LM checkpoint loaded as a language model is a clear UsageError", async () => {
  const dir = await Deno.makeTempDir();
  await train(`${dir}/run`, new ToyClassifier(), { epochs: 1 });
  const expected = (error: Error) => {
    ok(error instanceof UsageError, String(error));
    strictEqual(
      error.message,
      `Cannot load checkpoint ${dir}/run/checkpoint: it holds a toy-classifier model, expected lm`,
    );
    return true;
  };
  await rejects(() => loadTrainedModel(`${dir}/run`), expected);
  await rejects(() => loadResumableRun(`${dir}/run`), expected);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("fit() keeps tf.memory().numTensors flat across epochs of a non-LM model", async () => {
  const model = new ToyClassifier();
  const optimizer = makeOptimizer("adam", 0.05);
  const counts: number[] = [];
  await fit(model, {
    epochs: 4,
    optimizer,
    rng: new Rng(0),
    batches: () => Object.assign([...TRAIN], { numBatches: TRAIN.length }),
    onEpoch: () => void counts.push(tf.memory().numTensors),
  });
  strictEqual(new Set(counts).size, 1, `tensor counts: ${counts}`);
  model.dispose();
  optimizer.dispose();
});

Deno.test("fit() with patience stops when the monitored metric stops improving", async () => {
  const model = new ToyClassifier();
  const optimizer = makeOptimizer("sgd", 0.01);
  const values = [5, 4, 4.5, 4.2, 4.1, 3];
  const infos: boolean[] = [];
  const result = await fit(model, {
    epochs: 6,
    optimizer,
    rng: new Rng(0),
    batches: () => Object.assign([TRAIN[0]], { numBatches: 1 }),
    validate: (() => {
      let i = 0;
      return () => Promise.resolve({ validLoss: values[i++] });
    })(),
    patience: 2,
    onEpoch: (_m, _next, info) => void infos.push(info.improved),
  });
  deepStrictEqual(infos, [true, true, false, false]);
  deepStrictEqual(result.earlyStop, { epoch: 2, value: 4 });
  model.dispose();
  optimizer.dispose();
});
