/**
 * The encoder-decoder (d2l §10.7 "Sequence-to-Sequence Learning" and §11.4
 * "The Bahdanau Attention Mechanism").
 *
 * - Encoder: embedding -> a `recurrent()` stack run with the source lengths,
 *   so padding changes neither its outputs (zero past each length) nor its
 *   final states (taken at each sentence's own last step).
 * - Decoder, `attention: "none"` (d2l's `Seq2SeqDecoder`): the encoder's final
 *   states start the decoder, and the context (the top layer's final state)
 *   is concatenated to every decoder input: `x_t = [embed(y_{t-1}); c]`.
 * - Decoder, `additive` or `dot` (d2l's `Seq2SeqAttentionDecoder`): at each
 *   step the query is the top decoder layer's state, the keys and values the
 *   encoder outputs with the source mask, and `x_t = [context_t; embed(y_{t-1})]`.
 * - A dense layer maps the decoder outputs to target-vocabulary logits.
 *
 * With a bidirectional encoder, the decoder is `2 * hiddenSize` wide and each
 * layer starts from its encoder layer's forward and reverse states concatenated.
 *
 * @module
 */
import { tidy } from "../ops/tidy.ts";
import type { Tensor, Tensor1D, Tensor2D, Tensor3D, Variable } from "../ops/tensors.ts";
import { tf } from "../tf.ts";
import { expandTo } from "../ops/broadcast.ts";
import { UsageError } from "../errors.ts";
import { Rng } from "../rng.ts";
import type { State } from "../cells/types.ts";
import { betweenLayersSeed, type Recurrent, recurrent } from "../layers/stack.ts";
import { type Embedding, embedding } from "../layers/embedding.ts";
import { type Dense, dense } from "../layers/dense.ts";
import {
  type AdditiveAttention,
  additiveAttention,
  type AttentionResult,
  dotProductAttention,
} from "../layers/attention.ts";
import type { LossOptions, LossResult, TrainableModel } from "../training/model.ts";
import type { PairBatch } from "./data.ts";
import type { Seq2SeqConfig } from "./config.ts";
import { maskedTokenLoss, stepOptions } from "./_model_parts.ts";
import { nativeKernels } from "../native/backend.ts";
import { matMulOfConstant } from "../ops/matmul.ts";
import { timeMajor } from "../ops/time_major.ts";
import { attentionDecoder, attentionDecoderFits } from "../kernels/attention_decoder.ts";
import { layerVariables, namedWeightsOf, setNamedWeightsOf } from "../training/named_weights.ts";

/**
 * The largest target vocabulary looked up by one-hot products on native (the
 * product's cost grows with V, a gather's does not).
 */
const ONE_HOT_MAX_VOCAB = 1024;

/** Offset of the decoder's dropout seeds from the encoder's (so their masks differ). */
const DECODER_SEED = 1_000_003;

/** What {@linkcode Seq2Seq.encode} returns: new tensors, freed with {@linkcode disposeMemory}. */
export interface EncoderMemory {
  /** `[B, S, Hd]`: the encoder outputs, batch-major (keys and values of attention). */
  outputs: Tensor3D;
  /** `[B]` int32: real source steps. */
  lengths: Tensor1D;
  /** `[B, Hd]`: d2l's context (the top layer's final state). */
  context: Tensor2D;
  /** `[B, S, Hd]`: the outputs through the additive attention's `W_k`, projected once. */
  keys?: Tensor3D;
}

/** What {@linkcode Seq2Seq.decodeStep} returns: new tensors the caller disposes. */
export interface DecodeStepResult {
  /** `[B, V]`. */
  logits: Tensor2D;
  /** The decoder's next state, one per layer. */
  state: State[];
  /** `[B, S]`: the attention weights of this step (attention models only). */
  weights?: Tensor2D;
}

/**
 * Frees an {@linkcode EncoderMemory}.
 *
 * @example Encode, then free
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { disposeMemory, Seq2Seq } from "./model.ts";
 * import { seq2seqConfig } from "./config.ts";
 * const model = new Seq2Seq(seq2seqConfig({ sourceVocabSize: 9, targetVocabSize: 9, embeddingSize: 4, hiddenSize: 4 }));
 * const before = tf.memory().numTensors;
 * const { memory, state } = model.encode(Int32Array.of(4, 3), Int32Array.of(2));
 * disposeMemory(memory);
 * tf.dispose(state.flatMap((s) => Object.values(s)));
 * strictEqual(tf.memory().numTensors, before);
 * model.dispose();
 * ```
 */
export function disposeMemory(memory: EncoderMemory): void {
  tf.dispose([memory.outputs, memory.lengths, memory.context]);
  if (memory.keys) memory.keys.dispose();
}

/**
 * An encoder-decoder whose weights live in variables it owns.
 *
 * @example The loss of one batch
 * ```ts
 * import { ok } from "node:assert";
 * import { seq2seqConfig } from "./config.ts";
 * import { makePairBatch } from "./data.ts";
 * const model = new Seq2Seq(seq2seqConfig({
 *   sourceVocabSize: 8, targetVocabSize: 9, embeddingSize: 4, hiddenSize: 5, attention: "additive",
 * }));
 * const batch = makePairBatch([
 *   { source: Int32Array.of(4, 5), target: Int32Array.of(6) },
 *   { source: Int32Array.of(7), target: Int32Array.of(8, 4) },
 * ]);
 * const { loss, count } = model.loss(batch, { training: false });
 * ok((await loss.data())[0] > 0 && count === 5);
 * loss.dispose();
 * model.dispose();
 * ```
 */
export class Seq2Seq implements TrainableModel<PairBatch> {
  /** "seq2seq". */
  readonly kind = "seq2seq";
  /** The configuration the model was built from. */
  readonly config: Seq2SeqConfig;
  /** Source embedding `[Vs, E]`. */
  readonly sourceEmbedding: Embedding;
  /** The encoder stack. */
  readonly encoder: Recurrent;
  /** Target embedding `[Vt, E]`. */
  readonly targetEmbedding: Embedding;
  /** The decoder stack (`Hd = hiddenSize * directions` wide). */
  readonly decoder: Recurrent;
  /** Additive attention, when `attention` is "additive". */
  readonly attention?: AdditiveAttention;
  /** Decoder outputs to logits `[Hd, Vt]`. */
  readonly output: Dense;

  /**
   * Builds the weights from a config.
   *
   * @param config a checked config, from {@linkcode seq2seqConfig}.
   */
  constructor(config: Seq2SeqConfig) {
    this.config = config;
    const { embeddingSize: E, hiddenSize: H, layers, cell, dropout, resetAfter } = config;
    const seeds = new Rng(config.seed);
    const seed = () => seeds.int(2 ** 31);
    const Hd = this.decoderWidth;
    const stack = { cell, hiddenSize: H, layers, dropout, resetAfter, init: "xavier" as const };
    this.sourceEmbedding = embedding({ vocabSize: config.sourceVocabSize, size: E, seed: seed() });
    this.encoder = recurrent({
      ...stack,
      inputSize: E,
      bidirectional: config.bidirectional,
      seed: seed(),
    });
    this.targetEmbedding = embedding({ vocabSize: config.targetVocabSize, size: E, seed: seed() });
    this.decoder = recurrent({ ...stack, hiddenSize: Hd, inputSize: E + Hd, seed: seed() });
    if (config.attention === "additive") {
      this.attention = additiveAttention({
        querySize: Hd,
        keySize: Hd,
        hiddenSize: Hd,
        seed: seed(),
      });
    }
    this.output = dense({ inputSize: Hd, outputSize: config.targetVocabSize, seed: seed() });
  }

  /** The decoder's width: `hiddenSize * directions`. */
  get decoderWidth(): number {
    return this.config.hiddenSize * (this.config.bidirectional ? 2 : 1);
  }

  /** Every trainable variable, in a stable order. */
  get trainableVariables(): Variable[] {
    return [
      ...this.sourceEmbedding.trainableVariables,
      ...this.encoder.trainableVariables,
      ...this.targetEmbedding.trainableVariables,
      ...this.decoder.trainableVariables,
      ...(this.attention?.trainableVariables ?? []),
      ...this.output.trainableVariables,
    ];
  }

  /**
   * Runs the encoder.
   *
   * @param source ids `[B, S]` row-major (`<eos>` then `<pad>` after each sentence).
   * @param lengths `[B]` real steps per sentence.
   * @returns the memory and the decoder's initial state (new tensors the caller disposes).
   */
  encode(
    source: Int32Array,
    lengths: Int32Array,
    options: { training?: boolean; seed?: number } = {},
  ): { memory: EncoderMemory; state: State[] } {
    const B = lengths.length, S = source.length / B;
    if (!Number.isInteger(S) || S < 1) {
      throw new UsageError(
        `Cannot encode: ${source.length} ids for ${B} sentences, expected B * S`,
      );
    }
    return tidy((): { memory: EncoderMemory; state: State[] } => {
      // Time-major ids; a small vocabulary is folded into the encoder's first layer.
      const xs = this.sourceEmbedding.sequenceInput(timeMajor(source, B, S), S, B);
      // The JS lengths for the encoder (its masks are built from them); a tensor for attention.
      const { outputs, state } = this.encoder.forward(xs, {
        lengths,
        training: options.training,
        seed: options.seed,
      });
      const decoderState = this.bridge(state);
      const batchMajor = tf.transpose(outputs, [1, 0, 2]) as Tensor3D; // [B, S, Hd]
      const memory: EncoderMemory = {
        outputs: batchMajor,
        lengths: tf.tensor1d(lengths, "int32"),
        context: tf.clone(decoderState[decoderState.length - 1].h), // [B, Hd]
      };
      if (this.attention) memory.keys = this.attention.projectKeys(batchMajor);
      return { memory, state: decoderState };
    });
  }

  /** Encoder states (PyTorch order) to one decoder state per layer. */
  private bridge(state: State[]): State[] {
    if (!this.config.bidirectional) return state;
    const out: State[] = [];
    for (let l = 0; l < this.config.layers; l++) {
      const f = state[2 * l], r = state[2 * l + 1];
      const h = tf.concat([f.h, r.h], 1) as Tensor2D; // [B, 2H]
      out.push(f.c && r.c ? { h, c: tf.concat([f.c, r.c], 1) as Tensor2D } : { h });
    }
    return out;
  }

  /** One attention lookup with the top decoder state as the query: context and weights `[B, *]`. */
  private attend(memory: EncoderMemory, top: Tensor2D): { context: Tensor2D; weights: Tensor2D } {
    const options = { validLengths: memory.lengths };
    if (this.attention && memory.keys) {
      // The fused op: one query row per sentence, no query axis to add and remove.
      return this.attention.applyStep(top, memory.keys, memory.outputs, options);
    }
    const query = tf.expandDims(top, 1) as Tensor3D; // [B, 1, Hd]
    const attended: AttentionResult = this.attention
      ? this.attention.apply(query, memory.outputs, memory.outputs, options)
      : dotProductAttention(query, memory.outputs, memory.outputs, options);
    return {
      context: tf.squeeze(attended.context, [1]) as Tensor2D,
      weights: tf.squeeze(attended.weights, [1]) as Tensor2D,
    };
  }

  /**
   * One decoder step for a batch of previous tokens.
   *
   * @param memory from {@linkcode encode} (not disposed).
   * @param previous `[B]` int32 ids of the previous target tokens (not disposed).
   * @param state the decoder state (not disposed).
   * @returns logits `[B, V]`, the next state and, with attention, the weights `[B, S]`.
   */
  decodeStep(
    memory: EncoderMemory,
    previous: Tensor1D,
    state: State[],
    options: { training?: boolean; seed?: number } = {},
  ): DecodeStepResult {
    return tidy((): DecodeStepResult => {
      const embedded = this.targetEmbedding.apply(previous) as Tensor2D; // [B, E]
      const step = this.stepFromEmbedded(memory, embedded, state, options);
      const result: DecodeStepResult = {
        logits: this.output.apply(step.output) as Tensor2D, // [B, V]
        state: step.state,
      };
      if (step.weights) result.weights = step.weights;
      return result;
    });
  }

  /** One decoder step from an embedded token: the top output `[B, Hd]`, the state, the weights. */
  private stepFromEmbedded(
    memory: EncoderMemory,
    embedded: Tensor2D,
    state: State[],
    options: { training?: boolean; seed?: number },
  ): { output: Tensor2D; state: State[]; weights?: Tensor2D } {
    let x: Tensor2D, weights: Tensor2D | undefined;
    if (this.config.attention === "none") {
      x = tf.concat([embedded, memory.context], 1) as Tensor2D; // [B, E + Hd]
    } else {
      const attended = this.attend(memory, state[state.length - 1].h);
      weights = attended.weights; // [B, S]
      x = tf.concat([attended.context, embedded], 1) as Tensor2D; // [B, Hd + E]
    }
    // On native each layer steps as a one-step fused sequence (the stack's step chooses).
    const next = this.decoder.step(x, state, stepOptions(options));
    return { output: next.output as Tensor2D, state: next.state, weights };
  }

  /**
   * Logits of a whole target under teacher forcing.
   *
   * @returns `[T, B, V]` logits, time-major (a new tensor the caller disposes).
   */
  forward(batch: PairBatch, options: { training?: boolean; seed?: number } = {}): Tensor3D {
    const { batchSize: B, targetSteps: T } = batch;
    const seed = options.seed ?? 0;
    return tf.tidy(() => {
      const { memory, state } = this.encode(batch.source, batch.sourceLengths, {
        training: options.training,
        seed,
      });
      // Transposed in JS: an int32 transpose is cpu's element-by-element kernel (~5 ms here).
      const targetIds = tf.tensor2d(timeMajor(batch.targetInput, B, T), [T, B], "int32");
      if (this.config.attention === "none") {
        const embedded = this.embedTargets(targetIds as Tensor2D); // [T, B, E]
        const context = expandTo(tf.expandDims(memory.context, 0), [T, B, this.decoderWidth]);
        const xs = tf.concat([embedded, context], 2) as Tensor3D; // [T, B, E + Hd]
        const { outputs } = this.decoder.forward(xs, {
          initialState: state,
          training: options.training,
          seed: seed + DECODER_SEED,
        });
        return this.output.apply(outputs); // [T, B, V]
      }
      if (memory.keys && attentionDecoderFits(this.decoder.cells.map((cell) => cell.spec))) {
        return this.output.apply(this.nativeAttentionDecoder(targetIds as Tensor2D, memory, state, {
          training: options.training,
          seed,
        })) as Tensor3D; // [T, B, V]
      }
      // Embeddings and logits of every step at once; only the recurrence is a loop.
      const embedded = tf.unstack(this.embedTargets(targetIds as Tensor2D)) as Tensor2D[]; // T x [B, E]
      const outputs: Tensor2D[] = [];
      let current = state;
      for (let t = 0; t < T; t++) {
        const step = this.stepFromEmbedded(memory, embedded[t], current, {
          training: options.training,
          seed: this.decoderStepSeed(seed, t),
        });
        outputs.push(step.output);
        current = step.state;
      }
      return this.output.apply(tf.stack(outputs) as Tensor3D) as Tensor3D; // [T, B, V]
    });
  }

  /** The seed of decoder step `t`'s call of the stack's step, in a pass seeded `seed`. */
  private decoderStepSeed(seed: number, t: number): number {
    return seed + DECODER_SEED + t * this.config.layers;
  }

  /**
   * The attention decoder's top outputs `[T, B, Hd]` as one native op (see
   * `attentionDecoder`): the same values as the step loop of `forward`, the
   * same dropout masks (the seeds the stack's step would draw).
   */
  private nativeAttentionDecoder(
    targetIds: Tensor2D,
    memory: EncoderMemory,
    state: State[],
    options: { training?: boolean; seed: number },
  ): Tensor3D {
    const rate = this.config.dropout;
    const dropout = options.training && rate > 0
      ? {
        rate,
        seed: (t: number, l: number) => betweenLayersSeed(this.decoderStepSeed(options.seed, t), l),
      }
      : undefined;
    return attentionDecoder(
      this.embedTargets(targetIds),
      {
        keys: memory.keys!,
        values: memory.outputs,
        lengths: memory.lengths.dataSync() as Int32Array,
      },
      {
        specs: this.decoder.cells.map((cell) => cell.spec),
        weights: this.decoder.cells.map((cell) => cell.weights),
        W_q: this.attention!.W_q,
        w_v: this.attention!.w_v,
      },
      state,
      dropout,
    );
  }

  /**
   * The target embeddings of time-major ids `[T, B]`: `[T, B, E]`. On native
   * with a small vocabulary, a product with one-hot rows: one GEMM each way
   * (exactly the rows: `x * 1` plus zeros), where cpu's gather indexes every
   * element in JavaScript (~25 ms for d2l's batch) and its gradient scatters.
   */
  private embedTargets(ids: Tensor2D): Tensor3D {
    const embedding = this.targetEmbedding;
    const [V, E] = embedding.table.shape, [T, B] = ids.shape;
    if (nativeKernels() === null || embedding.paddingId !== undefined || V > ONE_HOT_MAX_VOCAB) {
      return embedding.apply(ids) as Tensor3D;
    }
    return tidy(() => {
      const oneHot = tf.oneHot(tf.reshape(ids, [T * B]), V, 1, 0, "float32") as Tensor2D;
      return tf.reshape(matMulOfConstant(oneHot, embedding.table), [T, B, E]) as Tensor3D;
    });
  }

  /**
   * The mean cross-entropy per target token (`<eos>` included, padding
   * excluded), for the training core.
   */
  loss(batch: PairBatch, options: LossOptions): LossResult {
    const logits = this.forward(batch, { training: options.training, seed: options.seed });
    try {
      return maskedTokenLoss(logits, batch);
    } finally {
      logits.dispose();
    }
  }

  /** The variables besides the two stacks, by checkpoint name. */
  #own(): Record<string, Variable> {
    const own = layerVariables({
      "encoder/embedding": this.sourceEmbedding,
      "decoder/embedding": this.targetEmbedding,
      "decoder/out": this.output,
    });
    if (this.attention) {
      own["decoder/attention/W_q"] = this.attention.W_q;
      own["decoder/attention/W_k"] = this.attention.W_k;
      own["decoder/attention/w_v"] = this.attention.w_v;
    }
    return own;
  }

  /**
   * Every weight as a named tensor (new tensors the caller disposes):
   * `encoder/embedding`, `decoder/embedding`, `decoder/out/W`, `decoder/out/b`,
   * `decoder/attention/W_q|W_k|w_v`, `encoder/rnn/<layer>/<d2l name>`, `decoder/rnn/...`.
   */
  namedWeights(): Record<string, Tensor> {
    return namedWeightsOf(this.#own(), {
      "encoder/rnn": this.encoder,
      "decoder/rnn": this.decoder,
    });
  }

  /**
   * Replaces every weight from a record like {@linkcode namedWeights}'s.
   *
   * @throws {UsageError} for a missing or extra key or a shape that differs,
   *   before anything changes.
   */
  setNamedWeights(named: Record<string, Tensor>): void {
    setNamedWeightsOf(named, this.#own(), {
      "encoder/rnn": this.encoder,
      "decoder/rnn": this.decoder,
    });
  }

  /** Frees every variable. */
  dispose(): void {
    this.sourceEmbedding.dispose();
    this.encoder.dispose();
    this.targetEmbedding.dispose();
    this.decoder.dispose();
    this.attention?.dispose();
    this.output.dispose();
  }
}
