/**
 * What a cell kind is, as data: {@linkcode CellDefinition}, and the records
 * every kind shares (fused weights, state, spec).
 *
 * Storage is fused: one input kernel `Wx` `[D, G*H]`, one recurrent kernel
 * `Wh` `[H, G*H]` and one bias `b` `[G*H]` per cell, so a step costs one matmul
 * per source. The gate blocks sit in the order of the definition's `gates`
 * along the last axis (built in: rnn `h`; gru `z r h`; lstm and lnlstm
 * `i f o c`), the sigmoid gates first so one `sigmoid` covers them all.
 * Anything else a kind needs (a GRU's `bhh`, an lnlstm's LayerNorm gains) is
 * an extra parameter its definition declares.
 *
 * Users see the weights under the d2l names instead (see {@linkcode NamedWeights}).
 *
 * @module
 */
import type {
  Tensor,
  Tensor1D,
  Tensor2D,
  Tensor3D,
  Variable,
  Variable1D,
  Variable2D,
} from "../ops/tensors.ts";

/** The activation of a vanilla RNN. */
export type Nonlinearity = "tanh" | "relu";

/**
 * Fused weights of one cell (one layer, one direction): `Wx`, `Wh`, `b`, and
 * the extra parameters the kind's definition declares, by key.
 * Tensors are owned by whoever made the record.
 */
export interface FusedWeights {
  /** Input kernel `[D, G*H]`. */
  Wx: Tensor2D;
  /** Recurrent kernel `[H, G*H]`. */
  Wh: Tensor2D;
  /** Bias `[G*H]`. */
  b: Tensor1D;
  /** GRU `resetAfter` only: recurrent candidate bias `[H]`, inside `R ⊙ (H W_hh + b_hh)`. */
  bhh?: Tensor1D;
  /** Extra parameters declared by the definition (see {@linkcode CellParameter}). */
  [extra: string]: Tensor | undefined;
}

/** {@linkcode FusedWeights} held in trainable variables: what a cell object owns. */
export interface FusedVariables extends FusedWeights {
  /** Input kernel `[D, G*H]`. */
  Wx: Variable2D;
  /** Recurrent kernel `[H, G*H]`. */
  Wh: Variable2D;
  /** Bias `[G*H]`. */
  b: Variable1D;
  /** GRU `resetAfter` only: recurrent candidate bias `[H]`. */
  bhh?: Variable1D;
  /** Extra parameters declared by the definition. */
  [extra: string]: Variable | undefined;
}

/** What makes a cell's arithmetic: its kind and the variant flags. */
export interface CellSpec {
  /** A kind of the registry (`rnn`, `gru`, `lstm`, `lnlstm`), or a user definition's own. */
  kind: string;
  /** D, the width of each input. */
  inputSize: number;
  /** H, the width of the hidden state. */
  hiddenSize: number;
  /** rnn only. @default "tanh" */
  nonlinearity?: Nonlinearity;
  /** gru only: reset gate applied after the recurrent matmul (cuDNN/PyTorch). @default false */
  resetAfter?: boolean;
  /** A user's own cell: its definition (built-in kinds leave it out and are looked up). */
  definition?: CellDefinition;
}

/** Recurrent state as a named record: `{ h }` for rnn and gru, `{ h, c }` for lstm. Each `[B, H]`. */
export interface State {
  /** Hidden state `[B, H]`. */
  h: Tensor2D;
  /** Memory cell `[B, H]`, for kinds whose definition's `state` lists `"c"`. */
  c?: Tensor2D;
}

/** Weights under the d2l names (`W_xh`, `W_hh`, `b_h`, ...), shapes `[D, H]`, `[H, H]`, `[H]`. */
export type NamedWeights = Record<string, Tensor>;

/** The result of running a cell over a sequence. */
export interface SequenceResult {
  /** Hidden states for every step, `[T, B, H]`. */
  outputs: Tensor3D;
  /** The state after the last step. */
  state: State;
  /**
   * Kinds with a memory cell, when asked for (`cellStates: true`): the cell
   * state after every step, `c_0 .. c_{T-1}`, `[T, B, H]`.
   */
  cells?: Tensor3D;
}

/** A parameter beyond `Wx`, `Wh` and `b`: a vector of `blocks * H` numbers. */
export interface CellParameter {
  /** Its key in the fused record, e.g. `"bhh"`. */
  key: string;
  /** Its name among the d2l-named weights, e.g. `"b_hh"`. */
  name: string;
  /** Its length in units of H: the shape is `[blocks * H]`. */
  blocks: number;
  /** The starting value of every entry. */
  initial: number;
}

/** How a kind maps onto a PyTorch recurrent module's `state_dict` (see `torch.ts`). */
export interface TorchMapping {
  /** For each of our gate blocks, the PyTorch block it comes from. */
  blocks: readonly number[];
  /** A block whose `bias_hh` stays apart, as the extra parameter `key`, instead of adding into `b`. */
  apart?: { block: number; key: string };
  /** Why this spec has no PyTorch equivalent, or undefined when it has one. */
  refuse?(spec: CellSpec): string | undefined;
}

/**
 * A cell kind as data: everything the layers, kernels, checkpoints and
 * scripts need to know about it. The registry (`registry.ts`) holds the
 * built-in ones; `recurrent()` also takes a user's own.
 */
export interface CellDefinition {
  /** The kind's name, as `--cell` takes it. */
  readonly kind: string;
  /** The gate blocks in fused order (G is their count); block `g` is `W_x{g}`, `W_h{g}`, `b_{g}`. */
  readonly gates: readonly string[];
  /** The state's tensors, `["h"]` or `["h", "c"]`. */
  readonly state: readonly ("h" | "c")[];
  /** The variant flags this kind takes (any other is an error). @default none */
  readonly flags?: { readonly nonlinearity?: boolean; readonly resetAfter?: boolean };
  /** The extra parameters of a spec, in a fixed order. @default none */
  parameters?(spec: CellSpec): readonly CellParameter[];
  /**
   * The input half of every gate, `x` `[N, D]` to `[N, G*H]`, one row at a
   * time (so a whole sequence projects at once). Not tidied.
   * @default `x Wx + b`
   */
  project?(spec: CellSpec, weights: FusedWeights, x: Tensor2D): Tensor2D;
  /**
   * The recurrent half of one step: the projection `xw` `[B, G*H]` and the
   * state to the next state (new tensors). Not tidied.
   */
  step(spec: CellSpec, weights: FusedWeights, xw: Tensor2D, state: State): State;
  /** The PyTorch layout, when PyTorch has this module. */
  readonly torch?: TorchMapping;
  /** The ONNX operator that runs this kind, when there is one. */
  readonly onnx?: "RNN" | "GRU" | "LSTM";
}
