/**
 * A sequence classifier (N vs 1): token ids -> embedding -> a recurrent
 * stack run over each sequence's real steps only (variable-length batches,
 * never truncated) -> one vector per sequence -> a dense layer to label
 * logits.
 *
 * The vector per sequence (the "head"):
 * - `last`: the last layer's final state, both directions concatenated (the
 *   forward direction at each sequence's own last step, the reverse at its
 *   first, as PyTorch's packed `h_n`; an LSTM's `h`);
 * - `mean` / `max`: the last layer's outputs pooled over the real steps.
 *
 * @module
 */
import type { Tensor1D, Tensor2D, Tensor3D, Variable } from "../ops/tensors.ts";
import { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import { CELL_KINDS, type CellKind } from "../cells/types.ts";
import type { InitName } from "../cells/init.ts";
import { type Recurrent, recurrent } from "../layers/stack.ts";
import { type Embedding, embedding } from "../layers/embedding.ts";
import { type Dense, dense } from "../layers/dense.ts";
import { dropout } from "../layers/dropout.ts";
import { stepMask } from "../layers/lengths.ts";
import { softmaxCrossEntropy } from "../kernels/softmax_cross_entropy.ts";
import type { LossOptions, LossResult, TrainableModel } from "../training/model.ts";
import type { LabelledBatch } from "../supervised/labelled.ts";
import { layerVariables, NamedWeightsModel, type WeightParts } from "../training/named_weights.ts";
import { checkChoice, checkRate, checkSizes } from "../training/config_checks.ts";

/** How a sequence becomes one vector. */
export type ClassifierHead = "last" | "mean" | "max";

/** The heads, for validation and help text. */
export const CLASSIFIER_HEADS: readonly ClassifierHead[] = ["last", "mean", "max"];

/** Everything that fixes a classifier's shapes; saved with every checkpoint. */
export interface ClassifierConfig {
  /** Always `"classifier"`. */
  kind: "classifier";
  /** V, token ids (the vocabulary's size). */
  vocabSize: number;
  /** L, the number of labels. */
  numLabels: number;
  /** The id written past each sequence's end (its embedding row stays zero). */
  padId: number;
  /** The recurrent cell kind (a registry kind). */
  cell: CellKind;
  /** E. */
  embeddingSize: number;
  /** H, per layer and direction. */
  hiddenSize: number;
  /** Stacked recurrent layers. */
  layers: number;
  /** Whether each layer also reads the sequence backwards. */
  bidirectional: boolean;
  /** Dropout between recurrent layers and before the output layer, training only. */
  dropout: number;
  /** What the output layer reads: the final state, or a pooling over time. */
  head: ClassifierHead;
  /**
   * gru only: reset gate after the recurrent matmul (PyTorch's `nn.GRU`, so a
   * GRU classifier trained in PyTorch loads). Absent in older checkpoints: false.
   */
  resetAfter: boolean;
  /** Initialiser of the recurrent kernels. */
  init: InitName;
  /** Seed of the weight initialisation. */
  seed: number;
  /** Loss weight of each label (e.g. inverse frequency), or null for equal weights. */
  classWeights: number[] | null;
}

/** The defaults of {@linkcode classifierConfig}. */
export const CLASSIFIER_DEFAULTS = {
  padId: 1,
  cell: "gru",
  embeddingSize: 32,
  hiddenSize: 128,
  layers: 1,
  bidirectional: false,
  dropout: 0,
  head: "last",
  resetAfter: false,
  init: "xavier",
  seed: 0,
  classWeights: null,
} as const satisfies Partial<ClassifierConfig>;

/**
 * Checks a partial config and fills in the defaults.
 *
 * @throws {UsageError} naming the field, the bad value and what is expected.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(classifierConfig({ vocabSize: 30, numLabels: 4 }).head, "last");
 * ```
 */
export function classifierConfig(
  partial: Pick<ClassifierConfig, "vocabSize" | "numLabels"> & Partial<ClassifierConfig>,
): ClassifierConfig {
  const config: ClassifierConfig = { ...CLASSIFIER_DEFAULTS, ...partial, kind: "classifier" };
  const action = "Cannot build a classifier";
  checkSizes(action, config, ["vocabSize", "numLabels", "embeddingSize", "hiddenSize", "layers"]);
  if (config.numLabels < 2) {
    throw new UsageError(`${action}: numLabels is ${config.numLabels}, expected >= 2`);
  }
  checkChoice(action, "cell", config.cell, CELL_KINDS);
  checkChoice(action, "head", config.head, CLASSIFIER_HEADS);
  checkRate(action, "dropout", config.dropout);
  const weights = config.classWeights;
  if (
    weights !== null &&
    (weights.length !== config.numLabels || !weights.every((w) => Number.isFinite(w) && w > 0))
  ) {
    throw new UsageError(
      `${action}: classWeights has ${weights.length} entries, expected ${config.numLabels} numbers > 0`,
    );
  }
  return config;
}

/**
 * "Balanced" class weights (scikit-learn's): `n / (L * n_k)` for a label with
 * `n_k` of the `n` training examples, so every label weighs the same in total.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(balancedClassWeights([0, 0, 0, 1], 2), [4 / 6, 2]);
 * ```
 */
export function balancedClassWeights(labels: ArrayLike<number>, numLabels: number): number[] {
  const counts = new Array<number>(numLabels).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts.map((n) => n === 0 ? 1 : labels.length / (numLabels * n));
}

/**
 * A sequence classifier whose weights live in variables it owns; a
 * {@linkcode TrainableModel} of kind `"classifier"` over {@linkcode LabelledBatch}es.
 *
 * @example Label probabilities of a padded batch of two sequences
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { labelledBatch } from "../supervised/labelled.ts";
 * const model = new SequenceClassifier(classifierConfig({ vocabSize: 8, numLabels: 3, hiddenSize: 4 }));
 * const batch = labelledBatch([Int32Array.of(4, 5, 6), Int32Array.of(7)], [0, 2], 1);
 * const probs = model.probabilities(batch); // [B, L]
 * deepStrictEqual(probs.shape, [2, 3]);
 * probs.dispose();
 * model.dispose();
 * ```
 */
export class SequenceClassifier extends NamedWeightsModel implements TrainableModel<LabelledBatch> {
  /** Always `"classifier"`. */
  readonly kind = "classifier";
  /** The checked configuration. */
  readonly config: ClassifierConfig;
  /** Token vectors `[V, E]`. */
  readonly embedding: Embedding;
  /** The recurrent stack. */
  readonly rnn: Recurrent;
  /** Label logits from the sequence vector `[H * directions, L]`. */
  readonly output: Dense;
  readonly #classWeights?: Tensor1D;

  /**
   * Builds the weights from a config.
   *
   * @param config a checked config, from {@linkcode classifierConfig}.
   */
  constructor(config: ClassifierConfig) {
    super();
    this.config = config;
    const { vocabSize: V, embeddingSize: E, hiddenSize: H, seed } = config;
    this.embedding = embedding({ vocabSize: V, size: E, paddingId: config.padId, seed });
    this.rnn = recurrent({
      cell: config.cell,
      inputSize: E,
      hiddenSize: H,
      layers: config.layers,
      bidirectional: config.bidirectional,
      dropout: config.layers > 1 ? config.dropout : 0,
      resetAfter: config.resetAfter,
      init: config.init,
      seed: seed + 1,
    });
    this.output = dense({
      inputSize: this.rnn.outputSize,
      outputSize: config.numLabels,
      seed: seed + 2,
    });
    if (config.classWeights) this.#classWeights = tf.tensor1d(config.classWeights);
  }

  /** Every trainable variable: embedding, stack, output layer. */
  get trainableVariables(): Variable[] {
    return [
      ...this.embedding.trainableVariables,
      ...this.rnn.trainableVariables,
      ...this.output.trainableVariables,
    ];
  }

  /**
   * Label logits of a batch.
   *
   * @returns `[B, L]`, a new tensor the caller disposes.
   */
  logits(batch: LabelledBatch, options: Partial<LossOptions> = {}): Tensor2D {
    const training = options.training ?? false;
    const seed = options.seed;
    return tf.tidy(() => {
      const lengths = tf.tensor1d(batch.lengths, "int32");
      // A small vocabulary is folded into the first layer: its V rows projected, not T*B inputs.
      const xs = this.embedding.sequenceInput(batch.ids, batch.numSteps, batch.batchSize);
      const { outputs, state } = this.rnn.forward(xs, { lengths, training, seed });
      let vector = this.#pool(outputs, state.map((s) => s.h), lengths); // [B, H * dirs]
      if (training && this.config.dropout > 0) {
        vector = dropout(vector, this.config.dropout, {
          training,
          seed: seed === undefined ? undefined : seed + 7919,
        });
      }
      return this.output.apply(vector); // [B, L]
    });
  }

  /** The sequence vectors `[B, H * dirs]` from the outputs `[T, B, H * dirs]` or final states. */
  #pool(outputs: Tensor3D, finals: Tensor2D[], lengths: Tensor1D): Tensor2D {
    const { head, bidirectional } = this.config;
    if (head === "last") {
      const dirs = bidirectional ? 2 : 1;
      const last = finals.slice(finals.length - dirs); // the last layer's directions
      return dirs === 1 ? last[0] : tf.concat(last, 1) as Tensor2D;
    }
    const T = outputs.shape[0];
    const mask = tf.expandDims(tf.cast(stepMask(lengths, T), "float32"), 2); // [T, B, 1]
    if (head === "mean") {
      const sum = tf.sum(tf.mul(outputs, mask), 0); // [B, W]
      return tf.div(sum, tf.reshape(tf.cast(lengths, "float32"), [-1, 1])) as Tensor2D;
    }
    // max: padding steps get a large negative value so they never win.
    const masked = tf.add(tf.mul(outputs, mask), tf.mul(tf.sub(mask, 1), 1e9));
    return tf.max(masked, 0) as Tensor2D;
  }

  /**
   * Label probabilities of a batch (softmax of the logits, no dropout).
   *
   * @returns `[B, L]`, a new tensor the caller disposes.
   */
  probabilities(batch: LabelledBatch): Tensor2D {
    return tf.tidy(() => tf.softmax(this.logits(batch)) as Tensor2D);
  }

  /**
   * Mean cross-entropy of the batch's labels; with class weights, the
   * weighted mean `sum(w_y * nll) / sum(w_y)` (PyTorch's `CrossEntropyLoss(weight)`).
   */
  loss(batch: LabelledBatch, options: LossOptions): LossResult {
    const loss = tf.tidy(() =>
      softmaxCrossEntropy(
        this.logits(batch, options), // [B, L]
        tf.tensor1d(batch.labels, "int32"),
        this.#classWeights,
      )
    );
    return { loss, count: batch.batchSize };
  }

  /** Checkpoint names: `embedding`, `out/W`, `out/b`, `rnn/<layer>/<d2l name>`. */
  protected weightParts(): WeightParts {
    return {
      own: layerVariables({ embedding: this.embedding, out: this.output }),
      stacks: { rnn: this.rnn },
    };
  }

  /** Frees every variable. */
  dispose(): void {
    this.embedding.dispose();
    this.rnn.dispose();
    this.output.dispose();
    this.#classWeights?.dispose();
  }
}
