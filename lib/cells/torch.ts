/**
 * Weights from a PyTorch `nn.RNN` / `nn.GRU` / `nn.LSTM` `state_dict`, so a
 * model trained in PyTorch runs here unchanged.
 *
 * PyTorch keeps, per layer `k` (suffix `l{k}`, `l{k}_reverse` for the reversed
 * direction): `weight_ih_l{k}` `[G*H, D_k]`, `weight_hh_l{k}` `[G*H, H]`,
 * `bias_ih_l{k}` and `bias_hh_l{k}` `[G*H]`, with `D_0` the input size and
 * `D_k = H * directions` above. Its gate blocks run r, z, n (GRU) and
 * i, f, g, o (LSTM); ours run z, r, h and i, f, o, c. So, per block:
 *
 * - kernels are transposed (`x W` here, `W x` there);
 * - RNN and LSTM: the two biases simply add, `b = b_ih + b_hh`;
 * - GRU: PyTorch's is the reset-after variant. `b_z = b_iz + b_hz`,
 *   `b_r = b_ir + b_hr`, `b_h = b_in`, and `b_hn` becomes `bhh` (inside
 *   `R ⊙ (H W_hh + b_hh)`).
 *
 * @module
 */
import { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import type { CellSpec, FusedWeights, TorchMapping } from "./definition.ts";
import { cellDefinition } from "./registry.ts";
import { formatShape } from "../ops/shape.ts";

/** A PyTorch state_dict as plain JSON: each value a vector or a matrix (row-major). */
export type TorchStateDict = Record<string, number[] | number[][]>;

/** The layout of a PyTorch recurrent module: what fixes its keys and shapes. */
export interface TorchLayout {
  /** The cell kind (one with a PyTorch mapping). */
  kind: string;
  /** D, the input width of layer 0. */
  inputSize: number;
  /** H. */
  hiddenSize: number;
  /** PyTorch's `num_layers`. */
  layers: number;
  /** Whether every layer has a `_reverse` direction. */
  bidirectional: boolean;
}

/**
 * A kind's PyTorch mapping (its definition's `torch`), or a UsageError when
 * PyTorch has no such module or this spec's variant.
 */
function torchMapping(spec: CellSpec | string, action: string): TorchMapping {
  const kind = typeof spec === "string" ? spec : spec.kind;
  const torch = cellDefinition(spec).torch;
  if (torch === undefined) {
    throw new UsageError(`${action}: PyTorch has no ${kind} module, so no state_dict layout`);
  }
  const refused = typeof spec === "string" ? undefined : torch.refuse?.(spec);
  if (refused !== undefined) throw new UsageError(`${action}: ${refused}`);
  return torch;
}

/**
 * The suffix of one layer and direction, as PyTorch writes it.
 *
 * @example The reverse direction of layer 1
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(torchSuffix(1, true), "l1_reverse");
 * ```
 */
export function torchSuffix(layer: number, reverse: boolean): string {
  return `l${layer}${reverse ? "_reverse" : ""}`;
}

/**
 * Every key a PyTorch module of this layout has, with its shape, in PyTorch's order.
 *
 * @example A GRU layer's input kernel
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const shapes = torchShapes({ kind: "gru", inputSize: 5, hiddenSize: 4, layers: 1, bidirectional: false });
 * deepStrictEqual(shapes.get("weight_ih_l0"), [12, 5]);
 * ```
 */
export function torchShapes(layout: TorchLayout): Map<string, number[]> {
  const { kind, inputSize, hiddenSize: H, layers, bidirectional } = layout;
  const GH = torchMapping(kind, `Cannot lay out a PyTorch ${kind}`).blocks.length * H;
  const shapes = new Map<string, number[]>();
  for (let layer = 0; layer < layers; layer++) {
    const D = layer === 0 ? inputSize : H * (bidirectional ? 2 : 1);
    for (const reverse of bidirectional ? [false, true] : [false]) {
      const suffix = torchSuffix(layer, reverse);
      shapes.set(`weight_ih_${suffix}`, [GH, D]);
      shapes.set(`weight_hh_${suffix}`, [GH, H]);
      shapes.set(`bias_ih_${suffix}`, [GH]);
      shapes.set(`bias_hh_${suffix}`, [GH]);
    }
  }
  return shapes;
}

/** The shape of a JSON vector or matrix; a ragged or non-numeric value is an error naming the key. */
function shapeOf(key: string, value: unknown): number[] {
  const bad = (why: string) => new UsageError(`Cannot load PyTorch weights: "${key}" ${why}`);
  if (!Array.isArray(value)) throw bad("is not an array of numbers");
  if (value.length > 0 && Array.isArray(value[0])) {
    const width = value[0].length;
    value.forEach((row, r) => {
      if (!Array.isArray(row) || row.length !== width) {
        throw bad(
          `is ragged: row ${r} has ${
            Array.isArray(row) ? row.length : "no"
          } numbers, row 0 has ${width}`,
        );
      }
      if (!row.every((v) => typeof v === "number")) throw bad(`has a non-number in row ${r}`);
    });
    return [value.length, width];
  }
  if (!value.every((v) => typeof v === "number")) throw bad("has a non-number");
  return [value.length];
}

/**
 * Checks a state_dict against a layout: no key missing, none extra, every
 * shape right, before anything is loaded.
 *
 * @throws {UsageError} naming the key and both shapes (or the one there is).
 *
 * @example A missing key is named with its shape
 * ```ts
 * import { throws } from "node:assert";
 * const layout = { kind: "rnn", inputSize: 1, hiddenSize: 1, layers: 1, bidirectional: false };
 * throws(() => checkTorchStateDict(layout, {}), /missing key "weight_ih_l0", expected shape \[1, 1\]/);
 * ```
 */
export function checkTorchStateDict(layout: TorchLayout, stateDict: TorchStateDict): void {
  const action = `Cannot load a PyTorch ${layout.kind} state_dict`;
  const shapes = torchShapes(layout);
  for (const key of Object.keys(stateDict)) {
    if (!shapes.has(key)) {
      const shape = formatShape(shapeOf(key, stateDict[key]));
      throw new UsageError(
        `${action}: unexpected key "${key}" (shape ${shape}); expected ${
          [...shapes.keys()].join(", ")
        }`,
      );
    }
  }
  for (const [key, expected] of shapes) {
    if (!(key in stateDict)) {
      throw new UsageError(
        `${action}: missing key "${key}", expected shape ${formatShape(expected)}`,
      );
    }
    const shape = shapeOf(key, stateDict[key]);
    if (formatShape(shape) !== formatShape(expected)) {
      throw new UsageError(
        `${action}: "${key}" has shape ${formatShape(shape)}, expected ${formatShape(expected)}`,
      );
    }
  }
}

/**
 * Fused weights of one layer and direction from a state_dict already checked
 * by {@linkcode checkTorchStateDict}.
 *
 * @param spec our cell (its input size is this layer's: `H * directions` above layer 0).
 * @param stateDict the whole state_dict.
 * @param suffix which layer and direction, e.g. `"l0"` or `"l1_reverse"`.
 * @returns new tensors; the caller disposes them.
 * @throws {UsageError} for a kind PyTorch lacks, or a GRU spec without `resetAfter` (PyTorch's
 *   GRU is the reset-after variant).
 *
 * @example A PyTorch RNN: transposed kernels, the biases added
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const sd = {
 *   weight_ih_l0: [[1, 2, 3]], weight_hh_l0: [[4]], bias_ih_l0: [0.5], bias_hh_l0: [0.25],
 * };
 * const w = fusedFromTorch({ kind: "rnn", inputSize: 3, hiddenSize: 1 }, sd, "l0");
 * deepStrictEqual(await w.Wx.array(), [[1], [2], [3]]);
 * deepStrictEqual(await w.b.array(), [0.75]);
 * ```
 */
export function fusedFromTorch(
  spec: CellSpec,
  stateDict: TorchStateDict,
  suffix: string,
): FusedWeights {
  const { kind, inputSize: D, hiddenSize: H } = spec;
  const torch = torchMapping(spec, `Cannot load a PyTorch ${kind} into a ${kind}`);
  const Wih = stateDict[`weight_ih_${suffix}`] as number[][]; // [G*H, D]
  const Whh = stateDict[`weight_hh_${suffix}`] as number[][]; // [G*H, H]
  const bih = stateDict[`bias_ih_${suffix}`] as number[]; // [G*H]
  const biasHh = stateDict[`bias_hh_${suffix}`] as number[]; // [G*H]
  const blocks = torch.blocks;
  const GH = blocks.length * H;
  const Wx = new Float32Array(D * GH), Wh = new Float32Array(H * GH), b = new Float32Array(GH);
  blocks.forEach((source, g) => {
    // A GRU candidate keeps b_hn apart (as bhh); every other block adds its two biases.
    const addRecurrentBias = torch.apart?.block !== g;
    for (let j = 0; j < H; j++) {
      const row = source * H + j; // PyTorch's row of this unit of this gate
      for (let d = 0; d < D; d++) Wx[d * GH + g * H + j] = Wih[row][d];
      for (let k = 0; k < H; k++) Wh[k * GH + g * H + j] = Whh[row][k];
      b[g * H + j] = bih[row] + (addRecurrentBias ? biasHh[row] : 0);
    }
  });
  const fused: FusedWeights = {
    Wx: tf.tensor2d(Wx, [D, GH]),
    Wh: tf.tensor2d(Wh, [H, GH]),
    b: tf.tensor1d(b),
  };
  const apart = torch.apart;
  if (apart) {
    const source = blocks[apart.block] * H;
    fused[apart.key] = tf.tensor1d(biasHh.slice(source, source + H));
  }
  return fused;
}

/** One layer and direction in PyTorch's layout: row-major values with their shapes. */
export interface TorchCellWeights {
  /** `[G*H, D]`. */
  weight_ih: Float32Array;
  /** `[G*H, H]`. */
  weight_hh: Float32Array;
  /** `[G*H]`. */
  bias_ih: Float32Array;
  /** `[G*H]`. */
  bias_hh: Float32Array;
}

/**
 * The inverse of {@linkcode fusedFromTorch}: one cell's fused weights in
 * PyTorch's layout and gate order. Our single bias goes to `bias_ih` and
 * `bias_hh` is zero, except for a reset-after GRU's candidate block, which
 * gets `bhh`. A reset-before GRU (d2l's) is written in the same layout; its
 * `bias_hh` is zero and its candidate reads `W_hn (r ⊙ h)`, which
 * `nn.GRU` does not compute: a PyTorch peer needs its own cell for it.
 *
 * @example A round trip through PyTorch's layout
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const sd = {
 *   weight_ih_l0: [[1, 2, 3]], weight_hh_l0: [[4]], bias_ih_l0: [0.5], bias_hh_l0: [0],
 * };
 * const spec = { kind: "rnn", inputSize: 3, hiddenSize: 1 } as const;
 * const torch = fusedToTorch(spec, fusedFromTorch(spec, sd, "l0"));
 * deepStrictEqual(Array.from(torch.weight_ih), [1, 2, 3]);
 * deepStrictEqual(Array.from(torch.bias_ih), [0.5]);
 * ```
 */
export function fusedToTorch(spec: CellSpec, fused: FusedWeights): TorchCellWeights {
  const { kind, inputSize: D, hiddenSize: H } = spec;
  const torch = cellDefinition(spec).torch;
  if (torch === undefined) {
    throw new UsageError(
      `Cannot write ${kind} weights in PyTorch's layout: PyTorch has no ${kind}`,
    );
  }
  const blocks = torch.blocks;
  const GH = blocks.length * H;
  const Wx = fused.Wx.dataSync(), Wh = fused.Wh.dataSync(), b = fused.b.dataSync();
  const apart = torch.apart;
  const kept = apart ? fused[apart.key]?.dataSync() : undefined; // the block's own bias_hh
  const out: TorchCellWeights = {
    weight_ih: new Float32Array(GH * D),
    weight_hh: new Float32Array(GH * H),
    bias_ih: new Float32Array(GH),
    bias_hh: new Float32Array(GH),
  };
  blocks.forEach((source, g) => {
    for (let j = 0; j < H; j++) {
      const row = source * H + j, col = g * H + j; // PyTorch's row, our column
      for (let d = 0; d < D; d++) out.weight_ih[row * D + d] = Wx[d * GH + col];
      for (let k = 0; k < H; k++) out.weight_hh[row * H + k] = Wh[k * GH + col];
      out.bias_ih[row] = b[col];
      if (apart?.block === g && kept) out.bias_hh[row] = kept[j];
    }
  });
  return out;
}
