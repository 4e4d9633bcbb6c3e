/**
 * A whole additive-attention decoder under teacher forcing (d2l §11.4's
 * `Seq2SeqAttentionDecoder`) as one differentiable op on the native backend:
 * for t = 0 .. T-1,
 *
 *   q_t = h^top_{t-1} W_q,   context_t = attention(q_t, keys, values, lengths),
 *   x_t = [context_t; embedded_t],   h^l_t = cell_l(x^l_t, h^l_{t-1}),
 *   x^{l+1}_t = dropout(h^l_t),      outputs_t = h^top_t,
 *
 * run step by step with the C kernels the step-by-step path calls
 * (`rnn_attn_forward`, a one-step `rnn_seq_forward` per layer, `rnn_gemm`),
 * and differentiated by a hand-written backward pass through the same steps
 * in reverse (`rnn_attn_backward`, `rnn_seq_backward` adding each step's
 * weight gradients to the sums).
 *
 * Why one op: stepped with tf ops under autograd, each target step's weight
 * gradients are fresh tensors that autograd adds one by one (133 adds of up
 * to `[512, 768]` a d2l training step), and every step pays the concats,
 * slices and pads between the pieces: about half of a seq2seq step with
 * attention on native. Here the weight gradients accumulate in place, in C,
 * and nothing between the pieces is a tensor.
 *
 * The values are those of the step-by-step path to float32 rounding (the same
 * C calls forward; back, the gradients are summed in another order).
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { GradSaveFunc, Tensor, Tensor2D, Tensor3D } from "../ops/tensors.ts";
import type { CellSpec, FusedWeights, State } from "../cells/definition.ts";
import { GATE_COUNT, hasCellState } from "../cells/registry.ts";
import { checkShape } from "../ops/shape.ts";
import { BINARY_OPS, checkLength, nativeKernels, valuesOf } from "../native/backend.ts";
import { cellKindCode, UNUSED } from "./_native_sequence.ts";
import { hasFusedKernels } from "./fused_sequence.ts";
import { nativeDropoutMultiplier } from "./dropout_mask.ts";

const WHO = "native attentionDecoder";

/** The decoder's layers and attention, as {@linkcode attentionDecoder} reads them. */
export interface AttentionDecoderParts {
  /** One spec per layer: all of one kind, hidden size `Hd`; layer 0 reads `Hd + E` inputs. */
  specs: readonly CellSpec[];
  /** One fused record per layer. */
  weights: readonly FusedWeights[];
  /** `W_q [Hd, Hd]`: the query (the top layer's state) to the attention's space. */
  W_q: Tensor2D;
  /** `w_v [Hd, 1]`: the score vector. */
  w_v: Tensor2D;
}

/** The encoder's side: keys and values of the attention, and the source lengths. */
export interface AttentionMemory {
  /** `[B, S, Hd]`: the encoder outputs through `W_k`. */
  keys: Tensor3D;
  /** `[B, S, Hd]`: the encoder outputs. */
  values: Tensor3D;
  /** `B` real source steps (the attention's mask). */
  lengths: Int32Array;
}

/** Dropout between the decoder's layers while training. */
export interface DecoderDropout {
  /** The rate, in (0, 1). */
  rate: number;
  /** The seed of the mask after layer `layer` at step `t` (the stack's step would use it). */
  seed: (t: number, layer: number) => number;
}

/**
 * Whether {@linkcode attentionDecoder} runs these layers: the native backend
 * is active and every layer is a built-in kind with fused kernels.
 *
 * @example Off the native backend, never
 * ```ts
 * import { ok } from "node:assert";
 * import { tf } from "../tf.ts";
 * const specs = [{ kind: "gru" as const, inputSize: 4, hiddenSize: 2 }];
 * ok(attentionDecoderFits(specs) === (tf.getBackend() === "native"));
 * ```
 */
export function attentionDecoderFits(specs: readonly CellSpec[]): boolean {
  return nativeKernels() !== null && specs.length > 0 && specs.every(hasFusedKernels);
}

/** One layer's arrays, read once per call. */
interface LayerArrays {
  kind: number;
  D: number;
  /** Floats of a one-step sequence's saved work (`rnn_work_size`). */
  workSize: number;
  Wx: Float32Array;
  Wh: Float32Array;
  b: Float32Array;
  /** A reset-after GRU's `bhh`, else a placeholder C does not read. */
  bhh: Float32Array;
  hasBhh: boolean;
}

/** The arrays both passes read, fixed for the call: the attention's, and each layer's. */
interface Fixed {
  kp: Float32Array;
  vals: Float32Array;
  Wq: Float32Array;
  wv: Float32Array;
  lens: Int32Array;
  layers: LayerArrays[];
}

/** What the forward pass keeps of one layer at one step for the backward pass. */
interface LayerStep {
  x: Float32Array;
  h0: Float32Array;
  c0: Float32Array;
  value: Float32Array;
  work: Float32Array;
}

/** What the forward pass keeps of one step. */
interface DecoderStep {
  /** The query (the top layer's previous state) and it through `W_q`. */
  q: Float32Array;
  qp: Float32Array;
  /** The attention's packed output `[B, Hd + S]`. */
  attended: Float32Array;
  layers: LayerStep[];
  /** The dropout multipliers after each layer but the top (absent without dropout). */
  masks: Float32Array[];
}

/**
 * The decoder's top-layer outputs for every target step under teacher
 * forcing, differentiable in every tensor input (embeddings, keys, values,
 * `W_q`, `w_v`, each layer's weights and initial state).
 *
 * @param embedded `[T, B, E]`, time-major: the previous target tokens' embeddings.
 * @param memory keys and values `[B, S, Hd]` and the source lengths.
 * @param parts the layers and the attention's weights.
 * @param state one initial state per layer (`{ h }`, or `{ h, c }` for an LSTM), each `[B, Hd]`.
 * @param dropout the masks between layers while training, or undefined.
 * @returns `[T, B, Hd]`, a new tensor.
 * @throws {Error} off the native backend; a UsageError when a shape does not fit.
 *
 * @example Only on the native backend
 * ```ts
 * import { ok } from "node:assert";
 * ok(typeof attentionDecoder === "function");
 * ```
 */
export function attentionDecoder(
  embedded: Tensor3D,
  memory: AttentionMemory,
  parts: AttentionDecoderParts,
  state: readonly State[],
  dropout?: DecoderDropout,
): Tensor3D {
  const lib = nativeKernels();
  if (!lib || !attentionDecoderFits(parts.specs)) {
    throw new Error(`${WHO}: runs on the native backend, for layers with fused kernels`);
  }
  const [T, B, E] = embedded.shape, S = memory.keys.shape[1], L = parts.specs.length;
  const H = parts.specs[0].hiddenSize, lstm = hasCellState(parts.specs[0]);
  checkParts(parts, state, { B, S, E, H }, memory);
  const inputs: Tensor[] = [embedded, memory.keys, memory.values, parts.W_q, parts.w_v];
  for (let l = 0; l < L; l++) {
    const w = parts.weights[l];
    inputs.push(state[l].h, w.Wx, w.Wh, w.b);
    if (lstm) inputs.push(state[l].c ?? tf.zeros([B, H]));
    if (w.bhh) inputs.push(w.bhh);
  }
  const lens = memory.lengths;
  const op = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    args.pop(); // save: the backward pass reads the arrays kept below, not tensors
    const backend = tf.backend();
    const v = (t: Tensor) => valuesOf(backend, t);
    const [emb, kp, vals, Wq, wv] = (args.slice(0, 5) as Tensor[]).map(v);
    const layers: LayerArrays[] = [], h0: Float32Array[] = [], c0: Float32Array[] = [];
    let k = 5;
    for (let l = 0; l < L; l++) {
      const spec = parts.specs[l], bhh = parts.weights[l].bhh !== undefined;
      const [h, Wx, Wh, b] = (args.slice(k, k + 4) as Tensor[]).map(v);
      k += 4;
      const c = lstm ? v(args[k++] as Tensor) : UNUSED;
      const kind = cellKindCode(spec);
      const workSize = Number(lib.rnn_work_size(kind, 1, B, H));
      layers.push({ kind, D: spec.inputSize, workSize, Wx, Wh, b, bhh: UNUSED, hasBhh: bhh });
      if (bhh) layers[l].bhh = v(args[k++] as Tensor);
      h0.push(h), c0.push(c);
    }
    const sizes = { T, B, E, S, H, lstm }, fixed = { kp, vals, Wq, wv, lens, layers };
    const steps = forwardSteps(sizes, fixed, emb, h0, c0, dropout);
    const outputs = new Float32Array(T * B * H);
    steps.forEach((s, t) => outputs.set(s.layers[L - 1].value.subarray(0, B * H), t * B * H));
    return {
      value: tf.tensor3d(outputs, [T, B, H]),
      gradFunc: (dy: Tensor) => toTensors(backwardSteps(sizes, fixed, v(dy), steps), sizes, layers),
    };
  });
  return op(...inputs) as Tensor3D;
}

/** The sizes every pass reads. */
interface Sizes {
  T: number;
  B: number;
  E: number;
  S: number;
  H: number;
  lstm: boolean;
}

/** Throws unless every shape fits the sizes (C is never handed a short array): a UsageError naming it. */
function checkParts(
  parts: AttentionDecoderParts,
  state: readonly State[],
  sizes: { B: number; S: number; E: number; H: number },
  memory: AttentionMemory,
): void {
  const { B, S, E, H } = sizes;
  const bad = (what: string, t: Tensor | undefined, shape: number[]) =>
    checkShape(WHO, what, t, shape);
  bad("keys", memory.keys, [B, S, H]);
  bad("values", memory.values, [B, S, H]);
  bad("W_q", parts.W_q, [H, H]);
  bad("w_v", parts.w_v, [H, 1]);
  if (memory.lengths.length !== B) {
    throw new Error(`${WHO}: ${memory.lengths.length} lengths, expected ${B}`);
  }
  if (parts.weights.length !== parts.specs.length || state.length !== parts.specs.length) {
    throw new Error(
      `${WHO}: ${parts.specs.length} layers, ${parts.weights.length} weights, ${state.length} states`,
    );
  }
  parts.specs.forEach((spec, l) => {
    const G = GATE_COUNT[spec.kind], D = l === 0 ? H + E : H;
    if (spec.hiddenSize !== H || spec.inputSize !== D || spec.kind !== parts.specs[0].kind) {
      throw new Error(
        `${WHO}: layer ${l} is a ${spec.kind} ${spec.inputSize} -> ${spec.hiddenSize}, expected ${D} -> ${H}`,
      );
    }
    const w = parts.weights[l];
    bad(`layer ${l} Wx`, w.Wx, [D, G * H]);
    bad(`layer ${l} Wh`, w.Wh, [H, G * H]);
    bad(`layer ${l} b`, w.b, [G * H]);
    if (spec.kind === "gru" && spec.resetAfter) bad(`layer ${l} bhh`, w.bhh, [H]);
    bad(`layer ${l} h`, state[l].h, [B, H]);
    if (state[l].c) bad(`layer ${l} c`, state[l].c, [B, H]);
  });
}

/** The forward pass, step by step; returns what each step keeps for the backward pass. */
function forwardSteps(
  z: Sizes,
  { kp, vals, Wq, wv, lens, layers }: Fixed,
  emb: Float32Array,
  h0: Float32Array[],
  c0: Float32Array[],
  dropout?: DecoderDropout,
): DecoderStep[] {
  const lib = nativeKernels()!;
  const { T, B, E, S, H, lstm } = z, L = layers.length, X = H + E;
  checkLength(WHO, "embedded", emb, T * B * E);
  const h = [...h0], c = [...c0];
  const steps: DecoderStep[] = [];
  for (let t = 0; t < T; t++) {
    const q = h[L - 1], qp = new Float32Array(B * H), attended = new Float32Array(B * (H + S));
    lib.rnn_gemm(0, 0, B, H, H, q, H, Wq, H, qp, H, 0);
    lib.rnn_attn_forward(B, 1, S, H, H, qp, kp, vals, wv, lens, attended);
    // x = [context; embedded_t], row by row
    let x: Float32Array = new Float32Array(B * X);
    for (let b = 0; b < B; b++) {
      x.set(attended.subarray(b * (H + S), b * (H + S) + H), b * X);
      x.set(emb.subarray((t * B + b) * E, (t * B + b + 1) * E), b * X + H);
    }
    const step: DecoderStep = { q, qp, attended, layers: [], masks: [] };
    for (let l = 0; l < L; l++) {
      const w = layers[l];
      const value = new Float32Array((lstm ? 2 : 1) * B * H);
      const work = new Float32Array(w.workSize);
      const rc = lib.rnn_seq_forward(
        w.kind,
        1,
        B,
        w.D,
        H,
        0,
        x,
        null,
        w.Wx,
        w.Wh,
        w.b,
        w.bhh,
        h[l],
        c[l],
        0,
        value,
        work,
      );
      if (rc !== 0) throw new Error(`${WHO}: the forward pass ran out of memory`);
      step.layers.push({ x, h0: h[l], c0: c[l], value, work });
      h[l] = value.subarray(0, B * H);
      if (lstm) c[l] = value.subarray(B * H);
      if (l < L - 1) {
        if (dropout) {
          const mask = nativeDropoutMultiplier(B * H, dropout.rate, dropout.seed(t, l));
          step.masks.push(mask);
          x = new Float32Array(B * H);
          multiplyInto(x, h[l], mask);
        } else {
          x = h[l];
        }
      }
    }
    steps.push(step);
  }
  return steps;
}

/** The gradients, accumulated over the steps: one array per input of the op. */
interface Grads {
  emb: Float32Array;
  keys: Float32Array;
  values: Float32Array;
  Wq: Float32Array;
  wv: Float32Array;
  layers: {
    h: Float32Array;
    c: Float32Array;
    Wx: Float32Array;
    Wh: Float32Array;
    b: Float32Array;
    bhh: Float32Array;
  }[];
}

/** acc += x (n values, in C). */
function addInto(acc: Float32Array, x: Float32Array): void {
  const n = BigInt(acc.length);
  nativeKernels()!.rnn_binary(BINARY_OPS.Add, n, acc, n, x, n, acc);
}

/** out = a * b, elementwise (in C). */
function multiplyInto(out: Float32Array, a: Float32Array, b: Float32Array): void {
  const n = BigInt(out.length);
  nativeKernels()!.rnn_binary(BINARY_OPS.Multiply, n, a, n, b, n, out);
}

/** The backward pass: the steps in reverse, each layer top down, then the attention. */
function backwardSteps(
  z: Sizes,
  { kp, vals, Wq, wv, lens, layers }: Fixed,
  dy: Float32Array,
  steps: DecoderStep[],
): Grads {
  const lib = nativeKernels()!;
  const { T, B, E, S, H, lstm } = z, L = layers.length, X = H + E, BH = B * H;
  checkLength(WHO, "dy", dy, T * B * H);
  const g: Grads = {
    emb: new Float32Array(T * B * E),
    keys: new Float32Array(B * S * H),
    values: new Float32Array(B * S * H),
    Wq: new Float32Array(H * H),
    wv: new Float32Array(H),
    layers: layers.map((w) => ({
      h: new Float32Array(BH), // the carried dh: dh0 once the steps are done
      c: new Float32Array(lstm ? BH : 1),
      Wx: new Float32Array(w.Wx.length),
      Wh: new Float32Array(w.Wh.length),
      b: new Float32Array(w.b.length),
      bhh: new Float32Array(w.bhh.length),
    })),
  };
  // One step's input and state gradients (its weight gradients are added in place, in C).
  const one = layers.map((w) => ({
    dX: new Float32Array(B * w.D),
    h: new Float32Array(BH),
    c: new Float32Array(BH),
  }));
  const dvalue = new Float32Array((lstm ? 2 : 1) * BH);
  const dout = new Float32Array(B * (H + S)), dqp = new Float32Array(BH);
  const dk = new Float32Array(B * S * H), dv = new Float32Array(B * S * H);
  const dwv = new Float32Array(H), dq = new Float32Array(BH);
  for (let t = T - 1; t >= 0; t--) {
    const step = steps[t];
    // The top layer's output gradient: the loss's, plus the carried one.
    dvalue.set(dy.subarray(t * BH, (t + 1) * BH));
    for (let l = L - 1; l >= 0; l--) {
      const w = layers[l], s = step.layers[l], o = one[l], acc = g.layers[l];
      if (l < L - 1) {
        // Through the dropout after this layer: dX of the layer above times its mask.
        const dX = one[l + 1].dX;
        if (step.masks.length) {
          multiplyInto(dvalue.subarray(0, BH), dX, step.masks[l]);
        } else {
          dvalue.set(dX);
        }
      }
      const top = dvalue.subarray(0, BH);
      addInto(top, acc.h);
      if (lstm) dvalue.set(acc.c, BH);
      const rc = lib.rnn_seq_backward(
        w.kind,
        1,
        B,
        w.D,
        H,
        0,
        s.x,
        null,
        w.Wx,
        w.Wh,
        w.bhh,
        s.h0,
        s.c0,
        0,
        s.value,
        s.work,
        dvalue,
        o.dX,
        acc.Wx,
        acc.Wh,
        acc.b,
        acc.bhh,
        o.h,
        o.c,
        1, // added to the sums over the steps
      );
      if (rc !== 0) throw new Error(`${WHO}: the backward pass ran out of memory`);
      acc.h.set(o.h);
      if (lstm) acc.c.set(o.c);
    }
    // Layer 0's input gradient: the context's to the attention, the embedding's out.
    const dX0 = one[0].dX;
    for (let b = 0; b < B; b++) {
      dout.set(dX0.subarray(b * X, b * X + H), b * (H + S));
      g.emb.set(dX0.subarray(b * X + H, (b + 1) * X), (t * B + b) * E);
    }
    const rc = lib.rnn_attn_backward(
      B,
      1,
      S,
      H,
      H,
      step.qp,
      kp,
      vals,
      wv,
      lens,
      step.attended,
      dout,
      dqp,
      dk,
      dv,
      dwv,
    );
    if (rc !== 0) throw new Error(`${WHO}: the attention's backward pass ran out of memory`);
    addInto(g.keys, dk);
    addInto(g.values, dv);
    addInto(g.wv, dwv);
    // The query: dW_q += q^T dqp; its state gets dqp W_q^T on top of its carried gradient.
    lib.rnn_gemm(1, 0, H, H, B, step.q, H, dqp, H, g.Wq, H, 1);
    lib.rnn_gemm(0, 1, B, H, H, dqp, H, Wq, H, dq, H, 0);
    addInto(g.layers[L - 1].h, dq);
  }
  return g;
}

/** The gradients as tensors, in the op's input order. */
function toTensors(g: Grads, z: Sizes, layers: LayerArrays[]): Tensor[] {
  const { T, B, E, S, H, lstm } = z;
  const out: Tensor[] = [
    tf.tensor3d(g.emb, [T, B, E]),
    tf.tensor3d(g.keys, [B, S, H]),
    tf.tensor3d(g.values, [B, S, H]),
    tf.tensor2d(g.Wq, [H, H]),
    tf.tensor2d(g.wv, [H, 1]),
  ];
  layers.forEach((w, l) => {
    const d = g.layers[l], G = w.b.length / H;
    out.push(
      tf.tensor2d(d.h, [B, H]),
      tf.tensor2d(d.Wx, [w.D, G * H]),
      tf.tensor2d(d.Wh, [H, G * H]),
      tf.tensor1d(d.b),
    );
    if (lstm) out.push(tf.tensor2d(d.c, [B, H]));
    if (w.hasBhh) out.push(tf.tensor1d(d.bhh));
  });
  return out;
}
