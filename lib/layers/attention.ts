/**
 * Attention scoring functions (d2l §11.3 "Attention Scoring Functions"):
 * scaled dot-product attention and additive (Bahdanau) attention, both over
 * a batch of queries `[B, Q, d_q]`, keys `[B, K, d_k]` and values `[B, K, v]`
 * with a masked softmax that ignores padded keys.
 *
 * The matmuls run against explicitly transposed operands, forward and
 * backward: tfjs-backend-wasm runs `transposeA`/`transposeB` matmuls 15-40x
 * slower than a transpose plus a plain matmul.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor, Tensor2D, Tensor3D, Variable, Variable2D } from "../ops/tensors.ts";
import { UsageError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { maskedSoftmax, rowLengths, type ValidLengths } from "./_masked_softmax.ts";
import { projectedAdditiveAttention } from "../kernels/additive_attention.ts";
import { matMul } from "../ops/matmul.ts";
import { tidy } from "../ops/tidy.ts";
import { dense, type DenseInit } from "./dense.ts";
import { dropout } from "./dropout.ts";

export { maskedSoftmax } from "./_masked_softmax.ts";
export type { ValidLengths } from "./_masked_softmax.ts";

/** Options of one attention call. */
export interface AttentionOptions {
  /** Real keys per batch row `[B]` or per row and query `[B, Q]`; all keys when omitted. */
  validLengths?: ValidLengths;
  /** Whether dropout on the weights (d2l's `self.dropout(self.attention_weights)`) is active. @default false */
  training?: boolean;
  /** Seed of this call's dropout mask. @default unseeded */
  seed?: number;
}

/** Options of {@linkcode dotProductAttention}: one call's options and its dropout rate. */
export interface DotProductAttentionOptions extends AttentionOptions {
  /** Dropout rate on the weights while training, in [0, 1). @default 0 */
  dropout?: number;
}

/** What an attention call returns: new tensors the caller disposes. */
export interface AttentionResult {
  /** `[B, Q, v]`: each query's weighted sum of the values. */
  context: Tensor3D;
  /** `[B, Q, K]`: the attention weights before dropout (zeros on padded keys). */
  weights: Tensor3D;
}

/** Checks `[B, Q, *]`, `[B, K, *]`, `[B, K, *]` and returns `[B, Q, K]`. */
function checkShapes(
  kind: string,
  queries: Tensor,
  keys: Tensor,
  values: Tensor,
): [number, number, number] {
  const [B, Q] = queries.shape, [Bk, K] = keys.shape, [Bv, Kv] = values.shape;
  if (
    queries.rank !== 3 || keys.rank !== 3 || values.rank !== 3 || Bk !== B || Bv !== B || Kv !== K
  ) {
    throw new UsageError(
      `Cannot apply ${kind} attention: queries [${queries.shape}], keys [${keys.shape}], values [${values.shape}], expected [B, Q, d], [B, K, d'], [B, K, v]`,
    );
  }
  return [B, Q, K];
}

/** Weights from scores, then the context: shared by both scoring functions. */
function attend(
  scores: Tensor3D,
  values: Tensor3D,
  rate: number,
  options: AttentionOptions,
): AttentionResult {
  const weights = maskedSoftmax(scores, options.validLengths); // [B, Q, K]
  const dropped = dropout(weights, rate, {
    training: options.training ?? false,
    seed: options.seed,
  });
  const context = matMul(dropped, values); // [B, Q, v]
  return { context, weights };
}

/**
 * Scaled dot-product attention, `softmax(Q K^T / sqrt(d)) V` (d2l 11.3.2).
 *
 * @param queries `[B, Q, d]`; @param keys `[B, K, d]`; @param values `[B, K, v]` (none disposed).
 * @returns the context `[B, Q, v]` and the weights `[B, Q, K]`.
 * @throws {UsageError} for shapes that do not fit, lengths (see
 *   {@linkcode maskedSoftmax}) or a dropout rate outside [0, 1).
 *
 * @example Two keys, the second one padding
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { dotProductAttention } from "./attention.ts";
 * const q = tf.ones([1, 1, 2]) as tf.Tensor3D;
 * const k = tf.ones([1, 2, 2]) as tf.Tensor3D;
 * const v = tf.tensor3d([[[1, 2], [1000, 1000]]]);
 * const { context, weights } = dotProductAttention(q, k, v, { validLengths: [1] });
 * deepStrictEqual(Array.from(await context.data()), [1, 2]);
 * deepStrictEqual(Array.from(await weights.data()), [1, 0]);
 * ```
 */
export function dotProductAttention(
  queries: Tensor3D,
  keys: Tensor3D,
  values: Tensor3D,
  options: DotProductAttentionOptions = {},
): AttentionResult {
  checkShapes("dot-product", queries, keys, values);
  const d = queries.shape[2];
  if (keys.shape[2] !== d) {
    throw new UsageError(
      `Cannot apply dot-product attention: queries have width ${d} and keys ${
        keys.shape[2]
      }, expected equal widths`,
    );
  }
  return tidy(() => {
    const keysT = tf.transpose(keys, [0, 2, 1]) as Tensor3D; // [B, d, K]
    const scores = tf.div(matMul(queries, keysT), Math.sqrt(d)) as Tensor3D; // [B, Q, K]
    return attend(scores, values, options.dropout ?? 0, options);
  });
}

/** Options of {@linkcode additiveAttention}. */
export interface AdditiveAttentionOptions {
  /** d_q, the width of each query. */
  querySize: number;
  /** d_k, the width of each key. */
  keySize: number;
  /** h, the width of the hidden layer. */
  hiddenSize: number;
  /** Dropout rate on the weights while training, in [0, 1). @default 0 */
  dropout?: number;
  /** How to draw `W_q`, `W_k` and `w_v`. @default "xavier" */
  init?: DenseInit;
  /** Seed of the initial weights. @default 0 */
  seed?: number;
}

/** The weights of an additive attention by d2l's names. */
export interface AdditiveWeights {
  /** `[d_q, h]`. */
  W_q: Tensor2D;
  /** `[d_k, h]`. */
  W_k: Tensor2D;
  /** `[h, 1]`. */
  w_v: Tensor2D;
}

/** What {@linkcode additiveAttention} returns. */
export interface AdditiveAttention {
  /** `W_q [d_q, h]` (the transpose of d2l's `nn.Linear` weight). */
  readonly W_q: Variable2D;
  /** `W_k [d_k, h]`. */
  readonly W_k: Variable2D;
  /** `w_v [h, 1]`. */
  readonly w_v: Variable2D;
  /** `[W_q, W_k, w_v]`. */
  readonly trainableVariables: Variable[];
  /**
   * Attends: `score(q, k) = w_v^T tanh(W_q q + W_k k)`, then the masked softmax
   * and the weighted sum of the values.
   *
   * @param queries `[B, Q, d_q]`; @param keys `[B, K, d_k]`; @param values `[B, K, v]` (none disposed).
   * @returns the context `[B, Q, v]` and the weights `[B, Q, K]`, new tensors the caller disposes.
   * @throws {UsageError} for shapes or lengths that do not fit.
   */
  apply(
    queries: Tensor3D,
    keys: Tensor3D,
    values: Tensor3D,
    options?: AttentionOptions,
  ): AttentionResult;
  /**
   * `W_k k` for every key, `[B, K, d_k]` to `[B, K, h]`: a decoder that
   * attends to the same keys at every step projects them once.
   */
  projectKeys(keys: Tensor3D): Tensor3D;
  /** {@linkcode AdditiveAttention.apply} with keys already through {@linkcode AdditiveAttention.projectKeys}. */
  applyProjected(
    queries: Tensor3D,
    projectedKeys: Tensor3D,
    values: Tensor3D,
    options?: AttentionOptions,
  ): AttentionResult;
  /**
   * One query per batch row, `[B, d_q]`, against projected keys: a decoder
   * step's lookup without the query axis, `{@linkcode AdditiveAttention.applyProjected}`
   * with `Q = 1`.
   *
   * @returns the context `[B, v]` and the weights `[B, K]`, new tensors the caller disposes.
   * @throws {UsageError} for shapes or lengths that do not fit.
   */
  applyStep(
    query: Tensor2D,
    projectedKeys: Tensor3D,
    values: Tensor3D,
    options?: AttentionOptions,
  ): { context: Tensor2D; weights: Tensor2D };
  /** Copies of the weights, new tensors the caller disposes. */
  getWeights(): AdditiveWeights;
  /**
   * Replaces the weights (copied; the tensors are not disposed).
   *
   * @throws {UsageError} naming a missing weight or a shape that differs.
   */
  setWeights(weights: AdditiveWeights): void;
  /** Frees the variables. */
  dispose(): void;
}

/**
 * Additive attention (Bahdanau et al.; d2l 11.3.2), without biases as in d2l.
 *
 * @example Attend over three keys, the last one padding
 * ```ts
 * import { deepStrictEqual, strictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { additiveAttention } from "./attention.ts";
 * const attention = additiveAttention({ querySize: 4, keySize: 3, hiddenSize: 5, seed: 1 });
 * const q = tf.ones([2, 1, 4]) as tf.Tensor3D, k = tf.ones([2, 3, 3]) as tf.Tensor3D;
 * const v = tf.ones([2, 3, 6]) as tf.Tensor3D;
 * const { context, weights } = attention.apply(q, k, v, { validLengths: [2, 3] });
 * deepStrictEqual(context.shape, [2, 1, 6]);
 * strictEqual((await weights.data())[2], 0);
 * tf.dispose([q, k, v, context, weights]);
 * attention.dispose();
 * ```
 */
export function additiveAttention(options: AdditiveAttentionOptions): AdditiveAttention {
  const { querySize, keySize, hiddenSize: h, dropout: rate = 0, init = "xavier" } = options;
  if (!(rate >= 0 && rate < 1)) {
    throw new UsageError(
      `Cannot build additive attention: dropout is ${rate}, expected a number in [0, 1)`,
    );
  }
  // Each weight from its own seed, drawn in a fixed order.
  const seeds = new Rng(options.seed ?? 0);
  const layer = (inputSize: number, outputSize: number) =>
    dense({ inputSize, outputSize, bias: false, init, seed: seeds.int(2 ** 32) });
  const query = layer(querySize, h), key = layer(keySize, h), score = layer(h, 1);
  /** The fused op on query rows `[N, d_q]` (shapes checked by the caller but the widths). */
  const fused = (
    rows: Tensor2D,
    projectedKeys: Tensor3D,
    values: Tensor3D,
    o: AttentionOptions,
  ) => {
    const [N, d] = rows.shape, [B, K, hk] = projectedKeys.shape;
    if (d !== querySize || hk !== h) {
      throw new UsageError(
        `Cannot apply additive attention: queries have width ${d} and projected keys ${hk}, ` +
          `expected ${querySize} and ${h}`,
      );
    }
    const lengths = o.validLengths === undefined
      ? undefined
      : rowLengths(o.validLengths, B, N / B, K);
    return projectedAdditiveAttention(
      query.apply(rows),
      projectedKeys,
      values,
      score.kernel as Tensor2D,
      lengths,
    );
  };
  const self: AdditiveAttention = {
    W_q: query.kernel,
    W_k: key.kernel,
    w_v: score.kernel,
    trainableVariables: [query.kernel, key.kernel, score.kernel],
    apply(queries, keys, values, callOptions = {}) {
      checkShapes("additive", queries, keys, values);
      if (queries.shape[2] !== querySize || keys.shape[2] !== keySize) {
        throw new UsageError(
          `Cannot apply additive attention: queries have width ${queries.shape[2]} and keys ${
            keys.shape[2]
          }, expected ${querySize} and ${keySize}`,
        );
      }
      return tidy(() => self.applyProjected(queries, self.projectKeys(keys), values, callOptions));
    },
    projectKeys: (keys) => key.apply(keys) as Tensor3D,
    applyProjected(queries, projectedKeys, values, callOptions = {}) {
      const [B, Q, K] = checkShapes("additive", queries, projectedKeys, values);
      if (queries.shape[2] !== querySize || projectedKeys.shape[2] !== h) {
        throw new UsageError(
          `Cannot apply additive attention: queries have width ${queries.shape[2]} and projected ` +
            `keys ${projectedKeys.shape[2]}, expected ${querySize} and ${h}`,
        );
      }
      if (rate > 0 && callOptions.training) {
        // Dropout on the weights: the step-by-step ops (the fused op has none).
        return tidy(() => {
          const q = tf.expandDims(query.apply(queries), 2); // [B, Q, 1, h]
          const k = tf.expandDims(projectedKeys, 1); // [B, 1, K, h]
          const features = tf.reshape(tf.tanh(tf.add(q, k)), [B * Q * K, h]) as Tensor2D;
          const scores = tf.reshape(score.apply(features), [B, Q, K]) as Tensor3D; // [B, Q, K]
          return attend(scores, values, rate, callOptions);
        });
      }
      return tidy(() => {
        const rows = tf.reshape(queries, [B * Q, querySize]) as Tensor2D;
        const { context, weights } = fused(rows, projectedKeys, values, callOptions);
        return {
          context: tf.reshape(context, [B, Q, values.shape[2]]) as Tensor3D,
          weights: tf.reshape(weights, [B, Q, K]) as Tensor3D,
        };
      });
    },
    applyStep(queryRows, projectedKeys, values, callOptions = {}) {
      if (queryRows.rank !== 2) {
        throw new UsageError(
          `Cannot apply additive attention: a step's query has shape [${queryRows.shape}], expected [B, ${querySize}]`,
        );
      }
      const [B, d] = queryRows.shape;
      if (rate > 0 && callOptions.training) {
        return tidy(() => {
          const r = self.applyProjected(
            tf.reshape(queryRows, [B, 1, d]) as Tensor3D,
            projectedKeys,
            values,
            callOptions,
          );
          return {
            context: tf.squeeze(r.context, [1]) as Tensor2D,
            weights: tf.squeeze(r.weights, [1]) as Tensor2D,
          };
        });
      }
      return tidy(() => {
        checkShapes("additive", tf.reshape(queryRows, [B, 1, d]), projectedKeys, values);
        return fused(queryRows, projectedKeys, values, callOptions);
      });
    },
    getWeights: () => ({
      W_q: self.W_q.clone() as Tensor2D,
      W_k: self.W_k.clone() as Tensor2D,
      w_v: self.w_v.clone() as Tensor2D,
    }),
    setWeights(weights) {
      const names = ["W_q", "W_k", "w_v"] as const;
      for (const name of names) {
        const source = weights[name], target = self[name];
        if (!source) throw new UsageError(`Cannot set attention weights: "${name}" is missing`);
        if (source.shape.join() !== target.shape.join()) {
          throw new UsageError(
            `Cannot set attention weights: "${name}" has shape [${source.shape}], expected [${target.shape}]`,
          );
        }
      }
      for (const name of names) self[name].assign(weights[name]);
    },
    dispose: () => [query, key, score].forEach((l) => l.dispose()),
  };
  return self;
}
