/**
 * A recurrent stack as ONNX `RNN` / `GRU` / `LSTM` nodes, one per layer
 * (both directions in one node), reading `sequence_lens` for padded batches.
 *
 * ONNX keeps, per direction, `W` `[G*H, D]`, `R` `[G*H, H]` and
 * `B` `[2*G*H]` (`Wb` then `Rb`), gate blocks in the order i, o, f, c (LSTM),
 * z, r, h (GRU). Ours are `Wx` `[D, G*H]`, `Wh` `[H, G*H]`, `b` `[G*H]` in
 * the order i, f, o, c and z, r, h. So the kernels are transposed, the LSTM's
 * f and o blocks swap, `Wb = b` and `Rb = 0`, except for the GRU candidate:
 *
 * - reset-before (d2l): `h~ = tanh(X W_xh + (R ⊙ H) W_hh + b_h)` is ONNX's
 *   `linear_before_reset = 0`, `h~ = g(X Wh^T + (r ⊙ H) Rh^T + Rbh + Wbh)`;
 * - reset-after (PyTorch, cuDNN): `h~ = tanh(X W_xh + R ⊙ (H W_hh + bhh) + b_h)`
 *   is `linear_before_reset = 1`, `h~ = g(X Wh^T + r ⊙ (H Rh^T + Rbh) + Wbh)`,
 *   with `Rbh = bhh`.
 *
 * @module
 */
import type { Recurrent } from "../layers/stack.ts";
import { cellDefinition } from "../cells/registry.ts";
import { UsageError } from "../errors.ts";
import type { GraphBuilder } from "./_graph.ts";

/** For each ONNX operator's gate block, the block of our fused storage it comes from. */
const FROM_OURS: Readonly<Record<"RNN" | "GRU" | "LSTM", readonly number[]>> = {
  RNN: [0],
  GRU: [0, 1, 2], // z, r, h: the same order
  LSTM: [0, 2, 1, 3], // i <- i, o <- o (2), f <- f (1), c <- c
};

/** The ONNX operator of a stack's cell kind (its definition's `onnx`), or a UsageError. */
function onnxOperator(rnn: Recurrent): "RNN" | "GRU" | "LSTM" {
  const spec = rnn.cells[0].spec;
  const op = cellDefinition(spec).onnx;
  if (op === undefined) {
    throw new UsageError(
      `Cannot export a ${spec.kind} model to ONNX: ${spec.kind} has no ONNX operator; ` +
        "use --format safetensors",
    );
  }
  return op;
}

/** What {@linkcode recurrentGraph} adds. */
export interface RecurrentGraph {
  /** `[T, B, H * dirs]`: the last layer's outputs, directions concatenated. */
  outputs: string;
  /** `[layers * dirs, B, H]`: the final `h` of every layer and direction (PyTorch's order). */
  h: string;
  /** LSTM only: the final `c`, like `h`. */
  c?: string;
  /** Each layer's final `h`, `[dirs, B, H]`. */
  layerH: string[];
  /** LSTM only: each layer's final `c`. */
  layerC?: string[];
}

/** Options of {@linkcode recurrentGraph}: names of graph values, or omitted. */
export interface RecurrentGraphOptions {
  /** int32 `[B]` real lengths; every sequence is T long when omitted. */
  lengths?: string;
  /** `[layers * dirs, B, H]` initial `h`; zeros when omitted. */
  h0?: string;
  /** `[layers * dirs, B, H]` initial `c` (LSTM); zeros when omitted. */
  c0?: string;
}

/** One direction's `W`, `R` and `B` in ONNX layout, appended to the arrays given. */
function directionWeights(
  rnn: Recurrent,
  index: number,
  W: number[],
  R: number[],
  B: number[],
): void {
  const { kind, inputSize: D, hiddenSize: H, resetAfter } = rnn.cells[index].spec;
  const weights = rnn.cells[index].weights;
  const blocks = FROM_OURS[onnxOperator(rnn)];
  const GH = blocks.length * H;
  const Wx = weights.Wx.dataSync(), Wh = weights.Wh.dataSync(), b = weights.b.dataSync();
  const bhh = weights.bhh?.dataSync();
  const Wb: number[] = [], Rb: number[] = [];
  blocks.forEach((source, g) => {
    for (let j = 0; j < H; j++) {
      const col = source * H + j; // our column of this unit of this gate
      for (let d = 0; d < D; d++) W.push(Wx[d * GH + col]);
      for (let k = 0; k < H; k++) R.push(Wh[k * GH + col]);
      Wb.push(b[col]);
      Rb.push(kind === "gru" && resetAfter && g === 2 ? bhh![j] : 0); // ONNX's Rbh is our bhh
    }
  });
  B.push(...Wb, ...Rb);
}

/**
 * Adds the nodes of a whole stack over `xs` `[T, B, D]` (a graph value).
 *
 * @returns the names of its outputs and final states.
 */
export function recurrentGraph(
  g: GraphBuilder,
  rnn: Recurrent,
  xs: string,
  options: RecurrentGraphOptions = {},
): RecurrentGraph {
  const { hiddenSize: H, layers, bidirectional, nonlinearity } = rnn.options;
  const dirs = bidirectional ? 2 : 1;
  const opType = onnxOperator(rnn);
  const layerH: string[] = [], layerC: string[] = [];
  let x = xs;
  for (let l = 0; l < layers; l++) {
    const W: number[] = [], R: number[] = [], B: number[] = [];
    for (let d = 0; d < dirs; d++) directionWeights(rnn, l * dirs + d, W, R, B);
    const D = rnn.cells[l * dirs].spec.inputSize, GH = W.length / dirs / D;
    const inputs = [
      x,
      g.floats(`${opType}_W_l${l}`, [dirs, GH, D], W),
      g.floats(`${opType}_R_l${l}`, [dirs, GH, H], R),
      g.floats(`${opType}_B_l${l}`, [dirs, 2 * GH], B),
      options.lengths ?? "",
      options.h0 ? g.slice(options.h0, 0, l * dirs, (l + 1) * dirs) : "",
    ];
    if (opType === "LSTM") {
      inputs.push(options.c0 ? g.slice(options.c0, 0, l * dirs, (l + 1) * dirs) : "");
    }
    while (inputs[inputs.length - 1] === "") inputs.pop();
    const attributes: Record<string, number | string | string[]> = {
      hidden_size: H,
      direction: bidirectional ? "bidirectional" : "forward",
    };
    if (opType === "GRU") attributes.linear_before_reset = rnn.cells[0].spec.resetAfter ? 1 : 0;
    if (opType === "RNN") {
      attributes.activations = Array(dirs).fill(nonlinearity === "relu" ? "Relu" : "Tanh");
    }
    const [Y, Yh, Yc] = g.multi(opType, inputs, opType === "LSTM" ? 3 : 2, attributes);
    // Y [T, dirs, B, H] -> [T, B, dirs, H] -> [T, B, dirs * H]
    x = g.reshape(g.transpose(Y, [0, 2, 1, 3]), [0, 0, -1]);
    layerH.push(Yh);
    if (Yc) layerC.push(Yc);
  }
  const concat = (parts: string[]) =>
    parts.length === 1 ? parts[0] : g.op("Concat", parts, { axis: 0 });
  const result: RecurrentGraph = { outputs: x, h: concat(layerH), layerH };
  if (opType === "LSTM") {
    result.c = concat(layerC);
    result.layerC = layerC;
  }
  return result;
}
