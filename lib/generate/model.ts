/**
 * A conditioned generator (1 vs N): a character model that writes a sequence
 * for one given condition (here: a surname for a language), in both
 * published designs, picked by `conditioning`:
 *
 * - `init`: the condition's embedding is the initial hidden state of every
 *   layer (PyTorchNLPBook ch. 7, "conditioned" surname generator); an LSTM's
 *   cell state starts at zero;
 * - `input`: the condition's embedding is fed at every step beside the
 *   previous token's (PyTorch's "Generating names with a character-level RNN",
 *   which concatenates the category one-hot to each input);
 * - `none`: no condition at all, the baseline that shows what conditioning buys.
 *
 * Training reads `<bos> c1 ... cn` and predicts `c1 ... cn <eos>`
 * (teacher forcing), over each sequence's real steps only.
 *
 * @module
 */
import { tidy } from "../ops/tidy.ts";
import type { Scalar, Tensor2D, Tensor3D, Variable } from "../ops/tensors.ts";
import { tf } from "../tf.ts";
import { expandTo } from "../ops/broadcast.ts";
import { CELL_KINDS, type CellKind, type State } from "../cells/types.ts";
import { hasCellState } from "../cells/registry.ts";
import type { InitName } from "../cells/init.ts";
import { type Recurrent, recurrent } from "../layers/stack.ts";
import { type Embedding, embedding } from "../layers/embedding.ts";
import { type Dense, dense } from "../layers/dense.ts";
import { stepMask } from "../layers/lengths.ts";
import type { LossOptions, LossResult, TrainableModel } from "../training/model.ts";
import { layerVariables, NamedWeightsModel, type WeightParts } from "../training/named_weights.ts";
import { checkChoice, checkRate, checkSizes } from "../training/config_checks.ts";
import type { GeneratorBatch } from "./data.ts";

/** Where the condition enters the model. */
export type Conditioning = "init" | "input" | "none";

/** The conditioning designs, for validation and help text. */
export const CONDITIONINGS: readonly Conditioning[] = ["init", "input", "none"];

/** Everything that fixes a generator's shapes; saved with every checkpoint. */
export interface GeneratorConfig {
  /** Always `"generator"`. */
  kind: "generator";
  /** V, token ids, `<pad>`, `<bos>` and `<eos>` included. */
  vocabSize: number;
  /** C, the number of conditions (labels). */
  numConditions: number;
  /** Id of the padding token. */
  padId: number;
  /** How the condition enters the network. */
  conditioning: Conditioning;
  /** The recurrent cell kind (a registry kind). */
  cell: CellKind;
  /** E, the token embedding width. */
  embeddingSize: number;
  /** Width of the condition embedding for `input` (for `init` it is `layers * H`). */
  conditionSize: number;
  /** H. */
  hiddenSize: number;
  /** Stacked recurrent layers. */
  layers: number;
  /** Dropout between recurrent layers, training only. */
  dropout: number;
  /** How the weights are initialised. */
  init: InitName;
  /** Seed of the weight initialisation. */
  seed: number;
}

/** The defaults of {@linkcode generatorConfig}. */
export const GENERATOR_DEFAULTS = {
  padId: 1,
  conditioning: "init",
  cell: "gru",
  embeddingSize: 32,
  conditionSize: 16,
  hiddenSize: 128,
  layers: 1,
  dropout: 0,
  init: "xavier",
  seed: 0,
} as const satisfies Partial<GeneratorConfig>;

/**
 * Checks a partial config and fills in the defaults.
 *
 * @throws {UsageError} naming the field, the bad value and what is expected.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(generatorConfig({ vocabSize: 30, numConditions: 18 }).conditioning, "init");
 * ```
 */
export function generatorConfig(
  partial: Pick<GeneratorConfig, "vocabSize" | "numConditions"> & Partial<GeneratorConfig>,
): GeneratorConfig {
  const config: GeneratorConfig = { ...GENERATOR_DEFAULTS, ...partial, kind: "generator" };
  const action = "Cannot build a generator";
  const sizes = ["vocabSize", "numConditions", "embeddingSize", "conditionSize", "hiddenSize"];
  checkSizes(action, config, [...sizes, "layers"] as (keyof GeneratorConfig)[]);
  checkChoice(action, "conditioning", config.conditioning, CONDITIONINGS);
  checkChoice(action, "cell", config.cell, CELL_KINDS);
  checkRate(action, "dropout", config.dropout);
  return config;
}

/** What {@linkcode ConditionedGenerator.forward} returns: new tensors the caller disposes. */
export interface GeneratorForward {
  /** `[T, B, V]` logits of the token after each step. */
  logits: Tensor3D;
  /** The final state of every layer, to continue from. */
  state: State[];
}

/**
 * A conditioned generator whose weights live in variables it owns; a
 * {@linkcode TrainableModel} of kind `"generator"` over {@linkcode GeneratorBatch}es.
 *
 * @example The loss of one batch of two names
 * ```ts
 * import { ok } from "node:assert";
 * import { generatorBatch } from "./data.ts";
 * const model = new ConditionedGenerator(generatorConfig({ vocabSize: 8, numConditions: 2, hiddenSize: 4 }));
 * const batch = generatorBatch([Int32Array.of(4, 5), Int32Array.of(6)], [0, 1]);
 * const { loss, count } = model.loss(batch, { training: false });
 * ok(count === 5 && (await loss.data())[0] > 0); // 3 + 2 predicted tokens, <eos> included
 * loss.dispose();
 * model.dispose();
 * ```
 */
export class ConditionedGenerator extends NamedWeightsModel
  implements TrainableModel<GeneratorBatch> {
  /** Always `"generator"`. */
  readonly kind = "generator";
  /** The checked configuration. */
  readonly config: GeneratorConfig;
  /** Token vectors `[V, E]`. */
  readonly embedding: Embedding;
  /** Condition vectors `[C, layers * H]` (init) or `[C, conditionSize]` (input); none for `none`. */
  readonly condition?: Embedding;
  /** The recurrent stack. */
  readonly rnn: Recurrent;
  /** Next-token logits from the last layer's output `[H, V]`. */
  readonly output: Dense;

  /**
   * Builds the weights from a config.
   *
   * @param config a checked config, from {@linkcode generatorConfig}.
   */
  constructor(config: GeneratorConfig) {
    super();
    this.config = config;
    const { vocabSize: V, embeddingSize: E, hiddenSize: H, layers, seed } = config;
    this.embedding = embedding({ vocabSize: V, size: E, paddingId: config.padId, seed });
    const width = config.conditioning === "init" ? layers * H : config.conditionSize;
    if (config.conditioning !== "none") {
      this.condition = embedding({ vocabSize: config.numConditions, size: width, seed: seed + 3 });
    }
    this.rnn = recurrent({
      cell: config.cell,
      inputSize: E + (config.conditioning === "input" ? width : 0),
      hiddenSize: H,
      layers,
      dropout: layers > 1 ? config.dropout : 0,
      init: config.init,
      seed: seed + 1,
    });
    this.output = dense({ inputSize: H, outputSize: V, seed: seed + 2 });
  }

  /** Every trainable variable: embeddings, stack, output layer. */
  get trainableVariables(): Variable[] {
    return [
      ...this.embedding.trainableVariables,
      ...(this.condition?.trainableVariables ?? []),
      ...this.rnn.trainableVariables,
      ...this.output.trainableVariables,
    ];
  }

  /**
   * The state a sequence of each condition starts from: the condition's
   * embedding as every layer's `h` (`init`), else zeros.
   *
   * @param conditions `[B]` condition ids.
   * @returns one state per layer: new tensors the caller disposes.
   */
  initialState(conditions: Int32Array): State[] {
    const { hiddenSize: H, layers, cell, conditioning } = this.config;
    const B = conditions.length;
    return tf.tidy(() => {
      const zeros = () => tf.zeros([B, H]) as Tensor2D;
      const table = conditioning === "init"
        ? this.condition!.apply(tf.tensor1d(conditions, "int32")) as Tensor2D // [B, L*H]
        : undefined;
      // Slices, not tf.split: split's gradient fails in tfjs 4.22 when a piece gets none.
      const hs = Array.from(
        { length: layers },
        (_, l) => table ? tf.slice(table, [0, l * H], [B, H]) : zeros(),
      ); // L x [B, H]
      return hs.map((h) => hasCellState(cell) ? { h, c: zeros() } : { h }) as never;
    }) as State[];
  }

  /**
   * Runs the model over input ids.
   *
   * @param ids `[T, B]` time-major input ids.
   * @param conditions `[B]` condition ids.
   * @param options real lengths `[B]` (all T when omitted), the state to
   *   continue from (the condition's initial state when omitted; not disposed),
   *   and training / dropout seed.
   */
  forward(
    ids: Tensor2D,
    conditions: Int32Array,
    options: { lengths?: Int32Array; state?: State[]; training?: boolean; seed?: number } = {},
  ): GeneratorForward {
    const [T, B] = ids.shape;
    return tidy((): GeneratorForward => {
      let xs = this.embedding.apply(ids) as Tensor3D; // [T, B, E]
      if (this.config.conditioning === "input") {
        const c = this.condition!.apply(tf.tensor1d(conditions, "int32")); // [B, Ec]
        const every = expandTo(tf.expandDims(c, 0), [T, B, c.shape[1]!]); // [T, B, Ec]
        xs = tf.concat([xs, every], 2) as Tensor3D; // [T, B, E + Ec]
      }
      const initialState = options.state ?? this.initialState(conditions);
      const { outputs, state } = this.rnn.forward(xs, {
        initialState,
        training: options.training ?? false,
        seed: options.seed,
        ...(options.lengths ? { lengths: tf.tensor1d(options.lengths, "int32") } : {}),
      });
      const logits = this.output.apply(outputs); // [T, B, V]
      return { logits, state };
    });
  }

  /** Per-token negative log-likelihoods `[T, B]` (zero past each length) of a batch. */
  tokenLosses(batch: GeneratorBatch, options: Partial<LossOptions> = {}): Tensor2D {
    const { batchSize: B, numSteps: T } = batch;
    return tf.tidy(() => {
      const ids = tf.tensor2d(batch.inputs, [T, B], "int32");
      const { logits } = this.forward(ids, batch.conditions, {
        lengths: batch.lengths,
        training: options.training,
        seed: options.seed,
      });
      const targets = tf.oneHot(tf.tensor2d(batch.targets, [T, B], "int32"), this.config.vocabSize);
      const nll = tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 2)); // [T, B]
      const mask = tf.cast(stepMask(tf.tensor1d(batch.lengths, "int32"), T), "float32");
      return tf.mul(nll, mask) as Tensor2D;
    });
  }

  /** Mean cross-entropy per predicted token (`<eos>` included) over the real steps. */
  loss(batch: GeneratorBatch, options: LossOptions): LossResult {
    const count = batch.lengths.reduce((a, b) => a + b, 0);
    const loss = tf.tidy(() => tf.div(tf.sum(this.tokenLosses(batch, options)), count) as Scalar);
    return { loss, count };
  }

  /** Checkpoint names: `embedding`, `condition`, `out/W`, `out/b`, `rnn/<layer>/<d2l name>`. */
  protected weightParts(): WeightParts {
    return {
      own: layerVariables({
        embedding: this.embedding,
        condition: this.condition,
        out: this.output,
      }),
      stacks: { rnn: this.rnn },
    };
  }

  /** Frees every variable. */
  dispose(): void {
    this.embedding.dispose();
    this.condition?.dispose();
    this.rnn.dispose();
    this.output.dispose();
  }
}
