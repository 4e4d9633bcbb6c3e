/**
 * The native backend's fused additive attention, forward and backward: one
 * C call each (`rnn_attn_forward`, `rnn_attn_backward` in
 * `lib/native/kernels.c`) where tf ops take about ten kernels forward and
 * twenty back, the largest a tanh over `[B, Q, K, h]` that the cpu backend
 * runs element by element in JavaScript. `additive_attention.ts` registers
 * these under its kernel names.
 *
 * @module
 */
import { tf } from "../tf.ts";
import {
  checkLength,
  cpuBackendOf,
  int32ValuesOf,
  nativeKernels,
  valuesOf,
} from "../native/backend.ts";
import type { KernelArgs } from "./_native_cross_entropy.ts";

const WHO = "native additiveAttention";

function loaded() {
  const lib = nativeKernels();
  if (!lib) throw new Error(`${WHO}: the native kernels are not loaded`);
  return lib;
}

/** The sizes from the inputs' shapes, every length checked before a C call. */
function checked(args: KernelArgs) {
  const { query, keys, values, wv, lengths } = args.inputs as Record<string, tf.TensorInfo>;
  if (query.shape.length !== 2 || keys.shape.length !== 3 || values.shape.length !== 3) {
    throw new Error(
      `${WHO}: expected query [B*Q, h], keys [B, K, h], values [B, K, v], got [${query.shape}], ` +
        `[${keys.shape}], [${values.shape}]`,
    );
  }
  const [N, H] = query.shape, [B, K] = keys.shape, V = values.shape[2];
  if (
    B < 1 || N % B !== 0 || keys.shape[2] !== H || values.shape[0] !== B ||
    values.shape[1] !== K
  ) {
    throw new Error(
      `${WHO}: query [${query.shape}], keys [${keys.shape}] and values [${values.shape}] do not fit`,
    );
  }
  const backend = args.backend;
  const q = valuesOf(backend, query), kp = valuesOf(backend, keys);
  const vals = valuesOf(backend, values), w = valuesOf(backend, wv);
  const lens = int32ValuesOf(backend, lengths);
  checkLength(WHO, "query", q, N * H);
  checkLength(WHO, "keys", kp, B * K * H);
  checkLength(WHO, "values", vals, B * K * V);
  checkLength(WHO, "wv", w, H);
  if (lens.length !== N) {
    throw new Error(`${WHO}: lengths has ${lens.length} values, expected ${N}`);
  }
  return { B, Q: N / B, K, H, V, q, kp, vals, w, lens };
}

/**
 * Forward: inputs `query [B*Q, h]` (through `W_q`), `keys [B, K, h]` (through
 * `W_k`), `values [B, K, v]`, `wv [h, 1]`, `lengths [B*Q]` int32; output
 * `[B*Q, v + K]`: each row's context, then its weights.
 *
 * @throws {Error} for shapes or sizes that do not fit.
 *
 * @example Registered by additive_attention.ts; runs when the native backend is active
 * ```ts
 * import { ok } from "node:assert";
 * ok(typeof nativeAttentionForward === "function");
 * ```
 */
export function nativeAttentionForward(args: KernelArgs): tf.TensorInfo {
  const { B, Q, K, H, V, q, kp, vals, w, lens } = checked(args);
  const out = new Float32Array(B * Q * (V + K));
  loaded().rnn_attn_forward(B, Q, K, H, V, q, kp, vals, w, lens, out);
  return cpuBackendOf(args).makeTensorInfo([B * Q, V + K], "float32", out);
}

/**
 * Backward: the forward's inputs, its packed output `out` and its gradient
 * `dy` (both `[B*Q, v + K]`); outputs the gradients of query, keys, values
 * and wv, in that order.
 *
 * @throws {Error} for shapes or sizes that do not fit, or when C runs out of memory.
 *
 * @example Registered by additive_attention.ts; runs when the native backend is active
 * ```ts
 * import { ok } from "node:assert";
 * ok(typeof nativeAttentionBackward === "function");
 * ```
 */
export function nativeAttentionBackward(args: KernelArgs): tf.TensorInfo[] {
  const { B, Q, K, H, V, q, kp, vals, w, lens } = checked(args);
  const { out, dy } = args.inputs as Record<string, tf.TensorInfo>;
  const packed = valuesOf(args.backend, out), d = valuesOf(args.backend, dy);
  checkLength(WHO, "out", packed, B * Q * (V + K));
  checkLength(WHO, "dy", d, B * Q * (V + K));
  const dq = new Float32Array(B * Q * H), dk = new Float32Array(B * K * H);
  const dv = new Float32Array(B * K * V), dw = new Float32Array(H);
  const rc = loaded().rnn_attn_backward(
    B,
    Q,
    K,
    H,
    V,
    q,
    kp,
    vals,
    w,
    lens,
    packed,
    d,
    dq,
    dk,
    dv,
    dw,
  );
  if (rc !== 0) throw new Error(`${WHO}: the backward pass ran out of memory`);
  const backend = cpuBackendOf(args);
  return [
    backend.makeTensorInfo([B * Q, H], "float32", dq),
    backend.makeTensorInfo([B, K, H], "float32", dk),
    backend.makeTensorInfo([B, K, V], "float32", dv),
    backend.makeTensorInfo([H, 1], "float32", dw),
  ];
}
