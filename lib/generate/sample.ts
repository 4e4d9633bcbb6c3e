/**
 * Sampling sequences from a conditioned generator: start from the
 * condition's state and `<bos>`, then pick one token at a time (greedy, or
 * with temperature, top-k and top-p) and feed it back, until `<eos>`.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { disposeStates } from "../cells/state.ts";
import type { Vocab } from "../corpus/vocab.ts";
import { UNK } from "../corpus/vocab.ts";
import { checkDecodeOptions, chooseToken, type DecodeOptions } from "../decoding/token_choice.ts";
import type { ConditionedGenerator } from "./model.ts";
import { SPECIAL_IDS } from "./data.ts";

/** Options of {@linkcode sampleSequences}. */
export interface SampleSequencesOptions extends DecodeOptions {
  /** How many sequences. @default 1 */
  count?: number;
  /** Most tokens per sequence (it ends there without `<eos>`). @default 20 */
  maxLength?: number;
  /** Seed of the sampling stream. @default 0 */
  seed?: number;
  /**
   * Sequences sampled side by side; fewer streams tokens sooner. The picks
   * depend on it (the random stream is shared in row order). @default count
   */
  batchSize?: number;
  /** Called with each token as it is chosen: the sequence's index and the token's text. */
  onToken?: (index: number, token: string) => void;
  /** Called when a sequence is finished, with its index and text. */
  onSequence?: (index: number, text: string) => void;
}

/**
 * Samples sequences for one condition.
 *
 * @param model the generator.
 * @param vocab the vocabulary it was trained with (`<eos>` at id 3).
 * @param condition the condition's id.
 * @returns the sequences' texts, in order.
 * @throws {UsageError} for a condition outside the model's, or bad decode options.
 *
 * @example Greedy decoding is the same every time
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { labelledVocab } from "../supervised/labelled.ts";
 * import { ConditionedGenerator, generatorConfig } from "./model.ts";
 * const vocab = labelledVocab(["abc"]);
 * const model = new ConditionedGenerator(generatorConfig({ vocabSize: vocab.size, numConditions: 2, hiddenSize: 4 }));
 * const a = await sampleSequences(model, vocab, 1, { count: 2, greedy: true, maxLength: 5 });
 * deepStrictEqual(a, await sampleSequences(model, vocab, 1, { count: 2, greedy: true, maxLength: 5 }));
 * model.dispose();
 * ```
 */
export async function sampleSequences(
  model: ConditionedGenerator,
  vocab: Vocab,
  condition: number,
  options: SampleSequencesOptions = {},
): Promise<string[]> {
  const { count = 1, maxLength = 20, seed = 0 } = options;
  checkDecodeOptions(options);
  const C = model.config.numConditions;
  if (!Number.isInteger(condition) || condition < 0 || condition >= C) {
    throw new UsageError(`Cannot sample: condition is ${condition}, expected an id in [0, ${C})`);
  }
  for (const [name, value] of [["count", count], ["maxLength", maxLength]] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new UsageError(`Cannot sample: ${name} is ${value}, expected an integer >= 1`);
    }
  }
  const rng = new Rng(seed);
  const { padId, bosId, eosId } = SPECIAL_IDS;
  const banned = [vocab.idOf(UNK), padId, bosId];
  const texts: string[] = [];
  const batchSize = options.batchSize ?? count;
  for (let start = 0; start < count; start += batchSize) {
    const B = Math.min(batchSize, count - start);
    const conditions = new Int32Array(B).fill(condition);
    const tokens: string[][] = Array.from({ length: B }, () => []);
    const done = new Array<boolean>(B).fill(false);
    let state = model.initialState(conditions);
    let ids = new Int32Array(B).fill(bosId);
    for (let step = 0; step < maxLength && done.includes(false); step++) {
      const input = tf.tensor2d(ids, [1, B], "int32");
      const { logits, state: next } = model.forward(input, conditions, { state });
      input.dispose();
      disposeStates(state);
      state = next;
      const values = await logits.data(); // [1, B, V]
      logits.dispose();
      const V = values.length / B;
      // An empty sequence is not a sample: <eos> is banned at the first step.
      const decode = { ...options, banned: step === 0 ? [...banned, eosId] : banned };
      ids = new Int32Array(B).fill(padId);
      for (let b = 0; b < B; b++) {
        if (done[b]) continue;
        const id = chooseToken(values.subarray(b * V, (b + 1) * V), decode, rng);
        ids[b] = id;
        if (id === eosId) {
          done[b] = true;
          options.onSequence?.(start + b, tokens[b].join(vocab.joiner));
          continue;
        }
        const token = vocab.tokenOf(id);
        tokens[b].push(token);
        options.onToken?.(start + b, (tokens[b].length > 1 ? vocab.joiner : "") + token);
      }
    }
    disposeStates(state);
    for (let b = 0; b < B; b++) {
      if (!done[b]) options.onSequence?.(start + b, tokens[b].join(vocab.joiner));
      texts.push(tokens[b].join(vocab.joiner));
    }
  }
  return texts;
}
