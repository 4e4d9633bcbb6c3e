/**
 * A recurrent language model: token ids -> one-hot or embedding -> a stack of
 * recurrent layers -> a dense layer to vocabulary logits (d2l's `RNNModel`).
 *
 * @module
 */
import { tidy } from "../ops/tidy.ts";
import { timeMajor } from "../ops/time_major.ts";
import type { Scalar, Tensor2D, Tensor3D, Variable } from "../ops/tensors.ts";
import { layerVariables, NamedWeightsModel, type WeightParts } from "../training/named_weights.ts";
import { checkChoice, checkRate, checkSizes } from "../training/config_checks.ts";
import { type Embedding, embedding } from "../layers/embedding.ts";
import { type Dense, dense } from "../layers/dense.ts";
import type { Lengths } from "../layers/lengths.ts";
import { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import { type Recurrent, recurrent } from "../layers/stack.ts";
import type { CellKind, Nonlinearity, State } from "../cells/types.ts";
import { CELL_KINDS } from "../cells/types.ts";
import type { InitName } from "../cells/init.ts";
import { Rng } from "../rng.ts";
import { softmaxCrossEntropy } from "../kernels/softmax_cross_entropy.ts";
import { linearCrossEntropy } from "../kernels/linear_cross_entropy.ts";
import type { LossOptions, LossResult, TrainableModel } from "../training/model.ts";
import type { Minibatch } from "../corpus/batches.ts";

/** Everything that fixes a model's shapes and arithmetic; saved with every checkpoint. */
export interface ModelConfig {
  /** Number of token ids (the vocabulary's size). */
  vocabSize: number;
  /** The recurrent cell. */
  cell: CellKind;
  /** Hidden units per layer and direction. */
  hiddenSize: number;
  /** Stacked recurrent layers. @default 1 */
  layers: number;
  /** Run a reversed direction too (sees the future: useless for generation). @default false */
  bidirectional: boolean;
  /** Dropout between recurrent layers, training only. @default 0 */
  dropout: number;
  /** Embedding width; 0 feeds one-hot vectors as d2l does. @default 0 */
  embeddingSize: number;
  /** rnn only. @default "tanh" */
  nonlinearity: Nonlinearity;
  /** gru only: reset gate after the recurrent matmul. @default false */
  resetAfter: boolean;
  /** Weight initialiser. @default "normal" (d2l's N(0, 0.01)) */
  init: InitName;
  /** Seed of the initial weights. @default 0 */
  seed: number;
}

/** The defaults of every optional {@linkcode ModelConfig} field. */
export const MODEL_DEFAULTS: Omit<ModelConfig, "vocabSize" | "cell" | "hiddenSize"> = {
  layers: 1,
  bidirectional: false,
  dropout: 0,
  embeddingSize: 0,
  nonlinearity: "tanh",
  resetAfter: false,
  init: "normal",
  seed: 0,
};

/** A minibatch of token ids, row-major `[B, T]`. */
export interface TokenBatch {
  /** Token ids, `[batchSize * numSteps]`, row-major. */
  x: Int32Array;
  /** Rows of the batch. */
  batchSize: number;
  /** Time steps of the batch. */
  numSteps: number;
  /** Per-row lengths for a padded batch (see {@linkcode ForwardOptions.lengths}). */
  lengths?: Int32Array;
}

/** Options of {@linkcode LanguageModel.forward}. */
export interface ForwardOptions {
  /** The state to start from, one record per layer and direction; zeros when omitted. */
  state?: State[];
  /** Whether dropout is active. @default false */
  training?: boolean;
  /** Seed of this call's dropout masks (so a resumed run draws the same masks). */
  seed?: number;
  /**
   * Per-row lengths `[B]`: row b's tokens past its length are padding (their
   * logits come from zero outputs; the state is taken at each row's last real
   * token). @default every row is numSteps long
   */
  lengths?: Lengths;
}

/** The output of {@linkcode LanguageModel.forward}. */
export interface ForwardResult {
  /** Logits `[T*B, V]`, time-major: row `t*B + b` predicts the token after `x[b, t]`. */
  logits: Tensor2D;
  /** The final state of every layer and direction (PyTorch's h_n order). */
  state: State[];
}

/**
 * Checks a partial config and fills in the defaults.
 *
 * @throws {UsageError} naming the field, the bad value and what is expected.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const config = modelConfig({ vocabSize: 28, cell: "gru", hiddenSize: 8 });
 * strictEqual(config.layers, 1);
 * ```
 */
export function modelConfig(
  partial: Pick<ModelConfig, "vocabSize" | "cell" | "hiddenSize"> & Partial<ModelConfig>,
): ModelConfig {
  const config: ModelConfig = { ...MODEL_DEFAULTS, ...partial };
  const action = "Cannot build a model";
  checkSizes(action, config, ["vocabSize", "hiddenSize", "layers"]);
  checkChoice(action, "cell", config.cell, CELL_KINDS);
  checkRate(action, "dropout", config.dropout);
  if (!Number.isInteger(config.embeddingSize) || config.embeddingSize < 0) {
    throw new UsageError(
      `Cannot build a model: embeddingSize is ${config.embeddingSize}, expected an integer >= 0`,
    );
  }
  return config;
}

/** Re-exported where the LM defined it first (moved to lib/ops for every task). */
export { timeMajor };

/** The kind a language model's checkpoints record. */
export const LM_KIND = "lm";

/**
 * A language model whose weights live in variables it owns. It is a
 * {@linkcode TrainableModel} of kind `"lm"` over {@linkcode Minibatch}es: its
 * loss is the mean cross-entropy of the batch, its count the `B*T` predicted
 * tokens, and it carries its final recurrent state into the next batch.
 *
 * @example Logits for a [2, 3] batch of ids
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const model = new LanguageModel(modelConfig({ vocabSize: 5, cell: "lstm", hiddenSize: 4 }));
 * const { logits, state } = model.forward({ x: Int32Array.of(0, 1, 2, 3, 4, 0), batchSize: 2, numSteps: 3 });
 * deepStrictEqual(logits.shape, [6, 5]);
 * tf.dispose([logits, ...state.flatMap((s) => Object.values(s))]);
 * model.dispose();
 * ```
 */
export class LanguageModel extends NamedWeightsModel implements TrainableModel<Minibatch> {
  /** Always `"lm"`. */
  readonly kind: typeof LM_KIND = LM_KIND;
  /** The configuration the model was built from. */
  readonly config: ModelConfig;
  /** The recurrent stack. */
  readonly rnn: Recurrent;
  /** The token embedding (table `[V, E]`), only when `embeddingSize > 0`. */
  readonly embedding?: Embedding;
  /** The output layer to vocabulary logits: kernel `[H * directions, V]`, bias `[V]`. */
  readonly output: Dense;
  /**
   * Without an embedding: the identity `[V, V]`, the table whose rows are the
   * one-hot vectors, so the stack reads rows of it (its input projection is
   * then a row of `W_xh`, no `[T, B, V]` one-hot tensor or product).
   */
  readonly #oneHot?: Tensor2D;

  /**
   * Builds the weights from a config.
   *
   * @param config a checked config, from {@linkcode modelConfig}.
   */
  constructor(config: ModelConfig) {
    super();
    this.config = config;
    const { vocabSize: V, hiddenSize: H, embeddingSize: E } = config;
    // Its own stream, so the output layer does not repeat the stack's draws.
    const rng = new Rng(config.seed ^ 0x5bd1e995);
    this.rnn = recurrent({
      cell: config.cell,
      inputSize: E > 0 ? E : V,
      hiddenSize: H,
      layers: config.layers,
      bidirectional: config.bidirectional,
      dropout: config.dropout,
      nonlinearity: config.nonlinearity,
      resetAfter: config.resetAfter,
      init: config.init,
      seed: config.seed,
    });
    const directions = config.bidirectional ? 2 : 1;
    // N(0, 0.01) from one stream, the embedding's rows first (d2l's init; old seeds give old weights).
    if (E > 0) this.embedding = embedding({ vocabSize: V, size: E, std: 0.01, rng });
    else this.#oneHot = tf.eye(V) as Tensor2D;
    this.output = dense({ inputSize: H * directions, outputSize: V, init: "normal", rng });
  }

  /** Every trainable variable, in a stable order. */
  get trainableVariables(): Variable[] {
    return [
      ...(this.embedding?.trainableVariables ?? []),
      ...this.rnn.trainableVariables,
      ...this.output.trainableVariables,
    ];
  }

  /**
   * Runs the model over a batch.
   *
   * @param batch ids `[B, T]` row-major.
   * @param options the state to start from (zeros when omitted; not
   *   disposed), whether dropout is active, and the dropout masks' seed.
   * @returns logits `[T*B, V]` and the final states: new tensors the caller disposes.
   */
  forward(batch: TokenBatch, options: ForwardOptions = {}): ForwardResult {
    return tidy((): ForwardResult => {
      const { flat, state } = this.#hidden(batch, options);
      return { logits: this.output.apply(flat), state }; // [T*B, V]
    });
  }

  /** The stack's outputs as time-major rows `[T*B, H*dirs]` and its final states. */
  #hidden(batch: TokenBatch, options: ForwardOptions): { flat: Tensor2D; state: State[] } {
    const { batchSize: B, numSteps: T } = batch;
    const { state, training = false, seed, lengths = batch.lengths } = options;
    return tidy(() => {
      const xs = this.embedding
        ? this.embedding.apply(tf.transpose(tf.tensor2d(batch.x, [B, T], "int32"))) as Tensor3D
        : { table: this.#oneHot!, ids: oneHotRows(batch.x, B, T, this.config.vocabSize) };
      const { outputs, state: next } = this.rnn.forward(xs, {
        initialState: state,
        training,
        seed,
        lengths,
      });
      const width = outputs.shape[2];
      const flat = tf.reshape(outputs, [T * B, width]) as Tensor2D; // [T*B, H*dirs]
      return { flat, state: next };
    });
  }

  /**
   * Mean cross-entropy of a minibatch's targets (the training core's loss).
   *
   * @param batch ids `x` and targets `y`, `[B, T]` row-major.
   * @param options dropout, its seed, and the state carried in (not disposed).
   * @returns the loss scalar, `count` = B*T, and the final states as `carry`:
   *   new tensors the caller disposes.
   */
  loss(batch: Minibatch, options: LossOptions = { training: false }): LossResult {
    const targets = timeMajor(batch.y, batch.batchSize, batch.numSteps);
    const out = tidy((): { loss: Scalar; carry: State[] } => {
      const { flat, state } = this.#hidden(batch, {
        state: options.carry,
        training: options.training,
        seed: options.seed,
      });
      const { kernel, bias } = this.output;
      // The dense layer and the loss as one op (on native: C calls, no logits tensor)
      const loss = bias
        ? linearCrossEntropy(flat, kernel, bias, targets)
        : crossEntropy(this.output.apply(flat), targets);
      return { loss, carry: state };
    });
    return { loss: out.loss, count: batch.batchSize * batch.numSteps, carry: out.carry };
  }

  /**
   * Checkpoint names: `embedding`, `rnn/<layer>/<d2l name>`, `out/W`, `out/b`
   * (read and written by the inherited `namedWeights`/`setNamedWeights`).
   */
  protected weightParts(): WeightParts {
    return {
      own: layerVariables({ embedding: this.embedding, out: this.output }),
      stacks: { rnn: this.rnn },
    };
  }

  /** Frees every variable. */
  dispose(): void {
    this.rnn.dispose();
    this.output.dispose();
    this.embedding?.dispose();
    this.#oneHot?.dispose();
  }
}

/**
 * Row-major `[B, T]` ids as time-major rows `[T, B]` of the identity table;
 * an id outside `[0, V)` reads the zero row past it, as its one-hot vector
 * would be zeros.
 */
function oneHotRows(x: Int32Array, B: number, T: number, V: number): Tensor2D {
  const rows = Float32Array.from(timeMajor(x, B, T), (id) => id >= 0 && id < V ? id : V);
  return tf.tensor2d(rows, [T, B]);
}

/**
 * Mean softmax cross-entropy of logits `[N, V]` against target ids `[N]`.
 *
 * @returns a scalar: the mean negative log-likelihood per token (nats).
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * const loss = crossEntropy(tf.zeros([2, 4]), Int32Array.of(1, 3));
 * ok(Math.abs((await loss.data())[0] - Math.log(4)) < 1e-6);
 * ```
 */
export function crossEntropy(logits: Tensor2D, targets: Int32Array): Scalar {
  return tf.tidy(() => softmaxCrossEntropy(logits, tf.tensor1d(targets, "int32")));
}
