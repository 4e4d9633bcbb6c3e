/**
 * Decoding: greedy (d2l's `predict_step`) and beam search, both batched over
 * sentences, both stopping a sentence at `<eos>` or at its maximum length
 * (`ceil(maxLengthRatio * sourceLength) + maxLengthExtra` tokens, `<eos>`
 * included). Every step's tensors are freed: `tf.memory().numTensors` is the
 * same before and after a call.
 *
 * Beam search keeps `beam` hypotheses per sentence; a candidate that ends in
 * `<eos>` is set aside as finished, and a sentence is done when it has `beam`
 * finished hypotheses (or reaches its maximum length, when the live ones
 * join them). Hypotheses are ranked by `logp / lp(n)` with GNMT's length
 * penalty `lp(n) = ((5 + n) / 6)^alpha` over their n tokens (`<eos>` included).
 *
 * @module
 */
import { tidy } from "../ops/tidy.ts";
import { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import { BOS_ID, EOS_ID } from "../supervised/pairs.ts";
import type { State } from "../cells/types.ts";
import { gatherRows } from "../kernels/gather_rows.ts";
import { makePairBatch } from "./data.ts";
import { disposeMemory, type EncoderMemory, type Seq2Seq } from "./model.ts";
import { type BeamRow, beamStep, type Hypothesis, lengthPenalty } from "./_beam.ts";

export type { Hypothesis } from "./_beam.ts";

/** Options of {@linkcode translateIds}. */
export interface TranslateOptions {
  /** Hypotheses kept per sentence; 1 is plain greedy decoding. @default 1 */
  beam?: number;
  /** alpha of the length penalty (0: plain log-probability). @default 0.6 */
  lengthPenalty?: number;
  /** Hypotheses returned per sentence, at most `beam`. @default 1 */
  nBest?: number;
  /** Maximum tokens per source token. @default 2 */
  maxLengthRatio?: number;
  /** Tokens allowed on top of the ratio. @default 10 */
  maxLengthExtra?: number;
  /** Record the attention weights of each output token (attention models). @default false */
  attention?: boolean;
  /** Sentences decoded together. @default 64 */
  batchSize?: number;
  /** `auto`: greedy for `beam: 1`, else beam search; `beam` runs beam search even for 1. @default "auto" */
  method?: "auto" | "greedy" | "beam";
}

/**
 * Translates sentences given as source ids (without `<eos>`).
 *
 * @param model a trained model (only read).
 * @param sources one id list per sentence.
 * @returns per sentence, up to `nBest` hypotheses, best first.
 * @throws {UsageError} for a beam, n-best or length setting out of range.
 *
 * @example Greedy and beam 1 agree
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { Seq2Seq } from "./model.ts";
 * import { seq2seqConfig } from "./config.ts";
 * const model = new Seq2Seq(seq2seqConfig({ sourceVocabSize: 9, targetVocabSize: 9, embeddingSize: 4, hiddenSize: 4 }));
 * const sources = [Int32Array.of(4, 5, 6), Int32Array.of(7)];
 * const greedy = await translateIds(model, sources, { maxLengthExtra: 3 });
 * const beam1 = await translateIds(model, sources, { method: "beam", maxLengthExtra: 3 });
 * deepStrictEqual(greedy.map((h) => h[0].ids), beam1.map((h) => h[0].ids));
 * model.dispose();
 * ```
 */
export async function translateIds(
  model: Seq2Seq,
  sources: readonly Int32Array[],
  options: TranslateOptions = {},
): Promise<Hypothesis[][]> {
  const o = checkOptions(options);
  // Sorted by length so each decoding batch pads little; put back in order at the end.
  const order = sources.map((_, i) => i).sort((a, b) => sources[a].length - sources[b].length);
  const results: Hypothesis[][] = new Array(sources.length);
  for (let start = 0; start < order.length; start += o.batchSize) {
    const chunk = order.slice(start, start + o.batchSize);
    const part = await decodeBatch(model, chunk.map((i) => sources[i]), o);
    chunk.forEach((i, k) => results[i] = part[k]);
  }
  return results;
}

type Checked = Required<TranslateOptions>;

function checkOptions(options: TranslateOptions): Checked {
  const o: Checked = {
    beam: 1,
    lengthPenalty: 0.6,
    nBest: 1,
    maxLengthRatio: 2,
    maxLengthExtra: 10,
    attention: false,
    batchSize: 64,
    method: "auto",
    ...options,
  };
  const action = "Cannot translate";
  for (const key of ["beam", "nBest", "batchSize"] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) {
      throw new UsageError(`${action}: ${key} is ${o[key]}, expected an integer >= 1`);
    }
  }
  if (o.method === "greedy" && o.beam !== 1) {
    throw new UsageError(`${action}: greedy decoding keeps 1 hypothesis, beam is ${o.beam}`);
  }
  if (o.nBest > o.beam) {
    throw new UsageError(`${action}: nBest is ${o.nBest}, expected at most beam (${o.beam})`);
  }
  if (
    !(o.maxLengthRatio >= 0) || !(o.maxLengthExtra >= 0) || o.maxLengthRatio + o.maxLengthExtra <= 0
  ) {
    throw new UsageError(
      `${action}: maximum length ${o.maxLengthRatio} x source + ${o.maxLengthExtra}, expected numbers >= 0 allowing a token`,
    );
  }
  if (!(o.lengthPenalty >= 0)) {
    throw new UsageError(`${action}: lengthPenalty is ${o.lengthPenalty}, expected a number >= 0`);
  }
  return o;
}

/** Encodes a batch of sources: the memory, the decoder's first state, the length limits. */
function start(model: Seq2Seq, sources: readonly Int32Array[], o: Checked) {
  const batch = makePairBatch(sources.map((source) => ({ source, target: new Int32Array(0) })));
  const { memory, state } = model.encode(batch.source, batch.sourceLengths);
  const limits = sources.map((s) =>
    Math.max(1, Math.ceil(o.maxLengthRatio * (s.length + 1) + o.maxLengthExtra))
  );
  return { memory, state, limits };
}

async function decodeBatch(model: Seq2Seq, sources: readonly Int32Array[], o: Checked) {
  const method = o.method === "auto" ? (o.beam === 1 ? "greedy" : "beam") : o.method;
  return method === "greedy"
    ? await greedy(model, sources, o)
    : await beamSearch(model, sources, o);
}

/** Greedy decoding: the most likely token at every step. */
async function greedy(model: Seq2Seq, sources: readonly Int32Array[], o: Checked) {
  const B = sources.length;
  const { memory, state: first, limits } = start(model, sources, o);
  const hyps: Hypothesis[] = sources.map(() => ({ ids: [], score: 0, normalized: 0 }));
  if (o.attention) hyps.forEach((h) => h.weights = []);
  const done = new Array(B).fill(false);
  let state: State[] = first;
  let previous = tf.fill([B], BOS_ID, "int32") as tf.Tensor1D;
  try {
    for (let step = 0; done.includes(false); step++) {
      const out = model.decodeStep(memory, previous, state);
      const [ids, logps] = tf.tidy(() => {
        const logp = tf.logSoftmax(out.logits); // [B, V]
        const best = tf.argMax(logp, 1) as tf.Tensor1D; // [B]
        return [best, tf.max(logp, 1)];
      });
      const [idv, lpv] = [await ids.data(), await logps.data()];
      const wv = o.attention && out.weights ? await out.weights.data() : undefined;
      const S = memory.outputs.shape[1];
      for (let b = 0; b < B; b++) {
        if (done[b]) continue;
        const h = hyps[b];
        h.score += lpv[b];
        if (wv) h.weights!.push(Array.from(wv.subarray(b * S, b * S + sources[b].length + 1)));
        if (idv[b] === EOS_ID) done[b] = true;
        else h.ids.push(idv[b]);
        if (step + 1 >= limits[b]) done[b] = true;
      }
      tf.dispose([previous, logps, out.logits, out.weights ?? [], ...stateList(state)]);
      previous = ids as tf.Tensor1D;
      state = out.state;
    }
  } finally {
    tf.dispose([previous, ...stateList(state)]);
    disposeMemory(memory);
  }
  for (const h of hyps) h.normalized = h.score / lengthPenalty(h.ids.length + 1, o.lengthPenalty);
  return hyps.map((h) => [h]);
}

/** Beam search over `beam` hypotheses per sentence, all sentences at once. */
async function beamSearch(model: Seq2Seq, sources: readonly Int32Array[], o: Checked) {
  const B = sources.length, K = o.beam;
  const started = start(model, sources, o);
  // Row b * K + k is hypothesis k of sentence b: tile the memory and the state.
  const tile = tf.tensor1d(
    Int32Array.from({ length: B * K }, (_, r) => Math.floor(r / K)),
    "int32",
  );
  const memory: EncoderMemory = tf.tidy(() => ({
    outputs: tf.gather(started.memory.outputs, tile),
    lengths: tf.gather(started.memory.lengths, tile),
    context: tf.gather(started.memory.context, tile),
    ...(started.memory.keys ? { keys: tf.gather(started.memory.keys, tile) } : {}),
  }));
  let state = gatherStates(started.state, tile);
  tf.dispose([tile, ...stateList(started.state)]);
  disposeMemory(started.memory);
  const rows: BeamRow[] = Array.from({ length: B * K }, (_, r) => ({
    ids: [],
    score: r % K === 0 ? 0 : -Infinity, // one live hypothesis per sentence at first
    weights: o.attention ? [] : undefined,
  }));
  const finished: Hypothesis[][] = sources.map(() => []);
  const done = new Array(B).fill(false);
  let previous = tf.fill([B * K], BOS_ID, "int32") as tf.Tensor1D;
  try {
    for (let step = 0; done.includes(false); step++) {
      const out = model.decodeStep(memory, previous, state);
      const V = out.logits.shape[1];
      const top = tf.tidy(() => {
        const logp = tf.logSoftmax(out.logits); // [B*K, V]
        const total = tf.add(
          logp,
          tf.tensor2d(Float32Array.from(rows, (r) => r.score), [B * K, 1]),
        );
        return tf.topk(tf.reshape(total, [B, K * V]), Math.min(2 * K, K * V)); // [B, 2K]
      });
      const [values, indices] = [await top.values.data(), await top.indices.data()];
      const wv = o.attention && out.weights ? await out.weights.data() : undefined;
      const S = memory.outputs.shape[1];
      const next = beamStep({
        rows,
        values,
        indices,
        V,
        K,
        step,
        limits: started.limits,
        done,
        finished,
        o,
        S,
        weights: wv,
        sourceLengths: sources.map((s) => s.length + 1),
      });
      tf.dispose([
        previous,
        top.values,
        top.indices,
        out.logits,
        out.weights ?? [],
        ...stateList(state),
      ]);
      const parents = tf.tensor1d(next.parents, "int32");
      state = gatherStates(out.state, parents);
      tf.dispose([parents, ...stateList(out.state)]);
      previous = tf.tensor1d(next.tokens, "int32");
      rows.splice(0, rows.length, ...next.rows);
    }
  } finally {
    tf.dispose([previous, ...stateList(state)]);
    disposeMemory(memory);
  }
  return finished.map((list) => list.sort((a, b) => b.normalized - a.normalized).slice(0, o.nBest));
}

function stateList(states: State[]): tf.Tensor[] {
  return states.flatMap((s) => s.c ? [s.h, s.c] : [s.h]);
}

/** The rows `index` of every state (new tensors). */
function gatherStates(states: State[], index: tf.Tensor1D): State[] {
  return tidy((): State[] =>
    states.map((s) => {
      const h = gatherRows(s.h, index);
      return s.c ? { h, c: gatherRows(s.c, index) } : { h };
    })
  );
}
