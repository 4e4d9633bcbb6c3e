/**
 * Generating text from a language model: warm the state up on a prefix, then
 * pick one token at a time (greedy, or sampled with temperature, top-k and
 * top-p), feeding each pick back in.
 *
 * @module
 */
import { tidy } from "../ops/tidy.ts";
import { tf } from "../tf.ts";
import { checkDecodeOptions, chooseToken, type DecodeOptions } from "../decoding/token_choice.ts";
import { UsageError } from "../errors.ts";
import type { LanguageModel } from "./model.ts";
import { disposeStates } from "../cells/state.ts";
import type { State } from "../cells/types.ts";
import { Rng } from "../rng.ts";
import type { Vocab } from "../corpus/vocab.ts";
import { tokenizeText } from "../corpus/tokenize.ts";

/** Options of {@linkcode generate}. */
export interface GenerateOptions extends DecodeOptions {
  /** Number of tokens to generate after the prefix. */
  length: number;
  /** The random stream for sampling; unused when greedy. */
  rng: Rng;
}

/**
 * Generates token ids after a prefix, one at a time, as an async iterator, so
 * a caller can stream each token as soon as it exists.
 *
 * @param prefix at least one token id; the state is warmed up on all of them.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { LanguageModel, modelConfig } from "./model.ts";
 * import { Rng } from "../rng.ts";
 * const model = new LanguageModel(modelConfig({ vocabSize: 5, cell: "lstm", hiddenSize: 4 }));
 * const ids = [];
 * for await (const id of generate(model, [1, 2], { length: 3, rng: new Rng(1) })) ids.push(id);
 * strictEqual(ids.length, 3);
 * model.dispose();
 * ```
 */
export async function* generate(
  model: LanguageModel,
  prefix: readonly number[],
  options: GenerateOptions,
): AsyncGenerator<number> {
  checkDecodeOptions(options);
  if (prefix.length === 0) {
    throw new UsageError("Cannot sample: the prefix has no tokens, expected at least one");
  }
  if (!Number.isInteger(options.length) || options.length < 0) {
    throw new UsageError(`Cannot sample: length is ${options.length}, expected an integer >= 0`);
  }
  let state: State[] | undefined;
  try {
    // Warm-up: the whole prefix in one call; its last row predicts the first new token.
    let logits = step(model, Int32Array.from(prefix), state);
    state = logits.state;
    for (let i = 0; i < options.length; i++) {
      const values = await logits.last.data();
      logits.last.dispose();
      const id = chooseToken(values, options, options.rng);
      yield id;
      if (i + 1 === options.length) break;
      logits = step(model, Int32Array.of(id), state);
      disposeStates(state);
      state = logits.state;
    }
    logits.last.dispose();
  } finally {
    disposeStates(state);
  }
}

/** Feeds `ids` (batch 1) and returns the last position's logits `[V]` and the new state. */
function step(
  model: LanguageModel,
  ids: Int32Array,
  state: State[] | undefined,
): { last: tf.Tensor1D; state: State[] } {
  return tidy((): { last: tf.Tensor1D; state: State[] } => {
    const out = model.forward({ x: ids, batchSize: 1, numSteps: ids.length }, { state });
    const last = tf.reshape(tf.slice(out.logits, [ids.length - 1, 0], [1, -1]), [
      -1,
    ]) as tf.Tensor1D;
    return { last, state: out.state };
  });
}

/** Options of {@linkcode sampleText}. */
export interface SampleTextOptions extends DecodeOptions {
  /** Tokens to generate after the prefix. @default 100 */
  length?: number;
  /** Seed of the sampling stream. @default 0 */
  seed?: number;
  /** Called first with the normalised prefix, then with each generated token's text
   * (joiner included) as soon as it exists: their concatenation is the result. */
  onToken?: (text: string) => void;
}

/**
 * The tokens of a sampling prefix as the vocabulary reads it: a check to run
 * before training, so a prefix that cannot be sampled fails at once.
 *
 * @throws {UsageError} when nothing of the prefix is left after normalisation.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, throws } from "node:assert";
 * import { Vocab } from "../corpus/vocab.ts";
 * const vocab = Vocab.build(["a", "b"]);
 * deepStrictEqual(prefixTokens(vocab, "ab"), ["a", "b"]);
 * throws(() => prefixTokens(vocab, "日本"), /has no char tokens/);
 * ```
 */
export function prefixTokens(vocab: Vocab, prefix: string): string[] {
  const tokens = tokenizeText(prefix, { token: vocab.token, normalize: vocab.normalize });
  if (tokens.length === 0) {
    throw new UsageError(
      `Cannot sample: the prefix "${prefix}" has no ${vocab.token} tokens after ` +
        `${vocab.normalize} normalisation`,
    );
  }
  return tokens;
}

/**
 * Generates text after a prefix, tokenized the way the vocabulary's corpus
 * was (`<unk>` is never generated). Returns the normalised prefix and the
 * generated continuation, joined.
 *
 * @throws {UsageError} when the prefix has no tokens after normalisation.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { LanguageModel, modelConfig } from "./model.ts";
 * import { Vocab } from "../corpus/vocab.ts";
 * const vocab = Vocab.build("the time traveller".split(""));
 * const model = new LanguageModel(modelConfig({ vocabSize: vocab.size, cell: "gru", hiddenSize: 8 }));
 * const text = await sampleText(model, vocab, "Time", { length: 5, seed: 1 });
 * ok(text.startsWith("time") && text.length === 9);
 * model.dispose();
 * ```
 */
export async function sampleText(
  model: LanguageModel,
  vocab: Vocab,
  prefix: string,
  options: SampleTextOptions = {},
): Promise<string> {
  const tokens = prefixTokens(vocab, prefix);
  const { length = 100, seed = 0, onToken, ...decode } = options;
  const banned = [0, ...(decode.banned ?? [])];
  const generated: string[] = [];
  const rng = new Rng(seed);
  onToken?.(tokens.join(vocab.joiner));
  for await (
    const id of generate(model, [...vocab.encode(tokens)], { ...decode, banned, length, rng })
  ) {
    const text = vocab.tokenOf(id);
    generated.push(text);
    onToken?.(vocab.joiner + text); // the prefix is never empty, so a joiner always precedes
  }
  return [...tokens, ...generated].join(vocab.joiner);
}
