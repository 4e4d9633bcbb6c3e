/**
 * The masked softmax of d2l §11.3.1: a softmax over the last axis that only
 * sees each row's first `validLength` keys.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor1D, Tensor2D, Tensor3D } from "../ops/tensors.ts";
import { UsageError } from "../errors.ts";
import { softmaxWithinLengths } from "../kernels/additive_attention.ts";

/**
 * How many keys are real, per batch row (`[B]`) or per batch row and query
 * (`[B, Q]`): JS numbers (checked), or a tensor of either rank (any numeric
 * dtype; not checked, not disposed).
 */
export type ValidLengths = number[] | Int32Array | number[][] | Tensor1D | Tensor2D;

/**
 * A softmax over the keys that gives exactly zero weight to keys at or past
 * each valid length. Unlike d2l, which puts -1e6 in the masked scores and so
 * spreads a row with valid length 0 evenly over all its keys, a row with no
 * valid key here gets all-zero weights (and so a zero context).
 *
 * @param scores `[B, Q, K]` (not disposed).
 * @param validLengths `[B]` or `[B, Q]`, each in [0, K]; every key is valid when omitted.
 * @returns weights `[B, Q, K]`, a new tensor the caller disposes: on each row,
 *   zeros at `k >= validLength` and the rest summing to 1.
 * @throws {UsageError} for scores that are not rank 3, or lengths of the wrong
 *   shape, or (JS lengths) not integers in [0, K].
 *
 * @example The third key is padding
 * ```ts
 * import { ok, strictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { maskedSoftmax } from "./attention.ts";
 * const scores = tf.tensor3d([[[1, 2, 3]]]); // [B=1, Q=1, K=3]
 * const w = await maskedSoftmax(scores, [2]).data();
 * strictEqual(w[2], 0);
 * ok(Math.abs(w[0] + w[1] - 1) < 1e-6);
 * ```
 */
export function maskedSoftmax(scores: Tensor3D, validLengths?: ValidLengths): Tensor3D {
  if (scores.rank !== 3) {
    throw new UsageError(
      `Cannot take a masked softmax: scores have shape [${scores.shape}], expected [B, Q, K]`,
    );
  }
  if (validLengths === undefined) return tf.softmax(scores) as Tensor3D;
  const [B, Q, K] = scores.shape;
  return tf.tidy(() => softmaxWithinLengths(scores, lengthTensor(validLengths, B, Q, K)));
}

/** The lengths as float32 `[B, 1, 1]` or `[B, Q, 1]`, JS lengths checked. */
function lengthTensor(lengths: ValidLengths, B: number, Q: number, K: number): Tensor3D {
  const action = "Cannot take a masked softmax";
  if (lengths instanceof tf.Tensor) {
    const ok = lengths.shape[0] === B && (lengths.rank === 1 || lengths.shape[1] === Q);
    if (!ok || lengths.rank > 2) {
      throw new UsageError(
        `${action}: validLengths have shape [${lengths.shape}], expected [${B}] or [${B}, ${Q}]`,
      );
    }
    const cols = lengths.rank === 1 ? 1 : Q;
    return tf.reshape(tf.cast(lengths, "float32"), [B, cols, 1]);
  }
  const nested = Array.isArray(lengths) && lengths.length > 0 && Array.isArray(lengths[0]);
  const rows = nested ? lengths as number[][] : [Array.from(lengths as ArrayLike<number>)];
  const cols = nested ? Q : 1;
  const shapeOk = nested
    ? rows.length === B && rows.every((r) => r.length === Q)
    : rows[0].length === B;
  if (!shapeOk) {
    const got = nested ? `${rows.length} rows of ${rows.map((r) => r.length)}` : rows[0].length;
    throw new UsageError(
      `${action}: validLengths have ${got} entries, expected ${B} (one per batch row) or ${B} rows of ${Q}`,
    );
  }
  const flat = rows.flat();
  for (const n of flat) {
    if (!Number.isInteger(n) || n < 0 || n > K) {
      throw new UsageError(
        `${action}: a valid length is ${n}, expected an integer in [0, ${K}]`,
      );
    }
  }
  return tf.tensor3d(Float32Array.from(flat), [B, cols, 1]);
}

/**
 * Valid lengths as one int32 length per query row, `[B*Q]` (row `b * Q + q`):
 * the form the fused attention op reads. A `[B]` int32 tensor with `Q = 1`
 * is returned as it is (not a copy); otherwise a new tensor, each length
 * rounded up (a key `k` is valid when `k < length`) and capped at `K`.
 *
 * @throws {UsageError} as {@linkcode maskedSoftmax} does for lengths that do not fit.
 *
 * @example Per batch row, two queries each
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const lengths = rowLengths([2, 3], 2, 2, 3);
 * deepStrictEqual(Array.from(await lengths.data()), [2, 2, 3, 3]);
 * ```
 */
export function rowLengths(validLengths: ValidLengths, B: number, Q: number, K: number): Tensor1D {
  if (
    validLengths instanceof tf.Tensor && validLengths.dtype === "int32" &&
    validLengths.rank === 1 && validLengths.shape[0] === B && Q === 1
  ) {
    return validLengths as Tensor1D;
  }
  return tf.tidy(() => {
    const lengths = tf.broadcastTo(lengthTensor(validLengths, B, Q, K), [B, Q, 1]);
    return tf.reshape(tf.cast(tf.minimum(tf.ceil(lengths), K), "int32"), [B * Q]) as Tensor1D;
  });
}
