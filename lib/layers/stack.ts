/**
 * Deep and bidirectional recurrent layers (d2l §10.3 "Deep Recurrent Neural
 * Networks" and §10.4 "Bidirectional Recurrent Neural Networks"), laid out as
 * PyTorch's `nn.RNN` / `nn.GRU` / `nn.LSTM`:
 *
 * - layer `l` reads layer `l-1`'s outputs, both directions concatenated
 *   (`[T, B, H * directions]`);
 * - the reverse direction reads the sequence from its last step to its first,
 *   and its outputs are put back in time order before the concatenation;
 * - dropout, when training, acts on the outputs of every layer but the last;
 * - cells and states run in PyTorch's `h_n` order: layer-major, forward
 *   before reverse (index `l * directions + d`).
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { Tensor2D, Tensor3D, Variable } from "../ops/tensors.ts";
import { UsageError } from "../errors.ts";
import { Rng } from "../rng.ts";
import type {
  CellDefinition,
  CellSpec,
  FusedWeights,
  NamedWeights,
  Nonlinearity,
  State,
} from "../cells/definition.ts";
import { cellDefinition, type CellKind, checkCellOptions } from "../cells/registry.ts";
import type { InitName } from "../cells/init.ts";
import { runSequence } from "./sequence.ts";
import { dropout as dropoutOf } from "./dropout.ts";
import { checkLengths, type Lengths, lengthsTensor, reverseWithinLengths } from "./lengths.ts";
import { hasFusedKernels, isSequenceRows, type SequenceRows } from "../kernels/fused_sequence.ts";
import { nativeKernels } from "../native/backend.ts";
import {
  checkTorchStateDict,
  fusedFromTorch,
  type TorchStateDict,
  torchSuffix,
} from "../cells/torch.ts";
import { assignFused, disposeFused, makeCell, type RecurrentCell } from "./cell.ts";
import { checkState, fusedTensors, namedToFused, zeroState } from "../cells/spec.ts";
import { formatShape } from "../ops/shape.ts";
import { tidy } from "../ops/tidy.ts";

/** Options of {@linkcode recurrent}. */
export interface RecurrentOptions {
  /** The cell kind of every layer: a registry kind, or a user's own definition. */
  cell: CellKind | CellDefinition;
  /** D, the width of each input. */
  inputSize: number;
  /** H, the hidden width of each layer and direction. */
  hiddenSize: number;
  /** Stacked layers. @default 1 */
  layers?: number;
  /** Add a reverse direction to every layer. @default false */
  bidirectional?: boolean;
  /** Dropout rate between layers when training (needs layers >= 2). @default 0 */
  dropout?: number;
  /** rnn only ("tanh" is accepted for any kind, as it changes nothing there). @default "tanh" */
  nonlinearity?: Nonlinearity;
  /** gru only (false is accepted for any kind). @default false */
  resetAfter?: boolean;
  /** How to draw the kernels. @default "normal" */
  init?: InitName;
  /** Kinds with a forget gate (lstm, lnlstm) only: starting forget-gate bias. @default 0 */
  forgetBias?: number;
  /** Seed of the initial weights and of dropout masks drawn without a seed. @default 0 */
  seed?: number;
}

/** Options of {@linkcode Recurrent.forward}. */
export interface RecurrentForwardOptions {
  /** One state per layer and direction, PyTorch's `h_n` order; zeros when omitted. Not disposed. */
  initialState?: State[];
  /** Whether dropout is active. @default false */
  training?: boolean;
  /** Seed of this call's dropout masks. @default drawn from the stack's own generator */
  seed?: number;
  /**
   * Per-sequence lengths `[B]` (PyTorch's packed sequences): outputs past each
   * length are 0, every layer's final state is taken at each sequence's own
   * last step, the reverse direction starts there, and padding changes nothing.
   * @default every sequence is T steps long
   */
  lengths?: Lengths;
}

/** Options of {@linkcode Recurrent.step}. */
export interface RecurrentStepOptions {
  /** Whether dropout between layers is active. @default false */
  training?: boolean;
  /** Seed of this step's dropout masks. @default drawn from the stack's own generator */
  seed?: number;
}

/** What {@linkcode Recurrent.step} returns: new tensors the caller disposes. */
export interface RecurrentStepResult {
  /** `[B, H]`: the last layer's new hidden state. */
  output: Tensor2D;
  /** The new state of every layer, bottom first. */
  state: State[];
}

/** What {@linkcode Recurrent.forward} returns: new tensors the caller disposes. */
export interface RecurrentResult {
  /** `[T, B, H * directions]`: the last layer's outputs, forward then reverse on the last axis. */
  outputs: Tensor3D;
  /** The final state of every layer and direction, PyTorch's `h_n` order. */
  state: State[];
}

/** A stack of recurrent layers with its weights in variables. Made by {@linkcode recurrent}. */
export interface Recurrent {
  /** The options, defaults filled in. */
  readonly options: Readonly<RecurrentSettings>;
  /** Width of each output: `H * directions`. */
  readonly outputSize: number;
  /** The cells, one per layer and direction, PyTorch's `h_n` order. */
  readonly cells: readonly RecurrentCell[];
  /** Every weight variable, in a stable order: per cell `Wx`, `Wh`, `b`, then its extras (`bhh`, ...). */
  readonly trainableVariables: Variable[];
  /**
   * Runs the stack over `xs` `[T, B, D]`, or over rows of a table (`{ table [V, D], ids [T, B] }`,
   * see `SequenceRows`: the embedding folded into the first layer's input projection; the
   * gradient reaches the table). Differentiable; works inside `tf.variableGrads`.
   */
  forward(xs: Tensor3D | SequenceRows, options?: RecurrentForwardOptions): RecurrentResult;
  /**
   * Advances a one-directional stack by one step, every layer: `x` `[B, D]`
   * and the states (zeros when omitted; not disposed) to the next. The same
   * arithmetic as {@linkcode forward} one step at a time, for decoding loops.
   * Differentiable.
   *
   * @throws {UsageError} for a bidirectional stack (it needs the whole sequence) or a bad shape.
   */
  step(x: Tensor2D, states?: State[], options?: RecurrentStepOptions): RecurrentStepResult;
  /** Loads a PyTorch state_dict of the same layout, after checking every key and shape. */
  loadTorchStateDict(stateDict: TorchStateDict): void;
  /** Weights per layer and direction (`"l0"`, `"l0_reverse"`, ...) under the d2l names: new tensors. */
  getWeights(): Record<string, NamedWeights>;
  /** Replaces every weight from a record like {@linkcode getWeights}'s, checked before anything changes. */
  setWeights(weights: Record<string, NamedWeights>): void;
  /** Frees every variable. */
  dispose(): void;
}

/**
 * A stack's options with the defaults filled in: `cell` is the kind's name
 * (a user definition's own `kind` too), `definition` the kind itself.
 */
export type RecurrentSettings = Required<Omit<RecurrentOptions, "forgetBias" | "cell">> & {
  /** The kind's name. */
  cell: string;
  /** The kind's definition (the registry's, or the user's own). */
  definition: CellDefinition;
  /** Whether the cell is a user's own definition rather than a registry kind. */
  custom: boolean;
};
type CheckedOptions = RecurrentSettings;

/**
 * The seed of the dropout mask after `layer` in a call seeded `seed` (its
 * forward or its step): what an op that runs a stack's layers itself draws
 * to get the same masks.
 *
 * @example Each layer's mask has its own seed
 * ```ts
 * import { ok } from "node:assert";
 * ok(betweenLayersSeed(7, 0) !== betweenLayersSeed(7, 1));
 * ```
 */
export function betweenLayersSeed(seed: number, layer: number): number {
  return seed + layer;
}

/**
 * One layer's step. On the native backend a cell with fused kernels runs as a
 * one-step fused sequence (one C call each way, where its per-gate step is a
 * dozen cpu kernels in JavaScript); elsewhere the cell's own step.
 */
function layerStep(cell: RecurrentCell, x: Tensor2D, state: State): State {
  if (nativeKernels() === null || !hasFusedKernels(cell.spec)) return cell.step(x, state);
  const [B, D] = x.shape;
  return runSequence(cell.spec, cell.weights, tf.reshape(x, [1, B, D]) as Tensor3D, state).state;
}

function checkOptions(options: RecurrentOptions): CheckedOptions {
  const action = "Cannot build a recurrent stack";
  const { cell, inputSize, hiddenSize, layers = 1, bidirectional = false, dropout = 0 } = options;
  const definition = typeof cell === "string" ? findDefinition(cell, action) : cell;
  for (const [key, value] of Object.entries({ inputSize, hiddenSize, layers })) {
    if (!Number.isInteger(value) || value < 1) {
      throw new UsageError(`${action}: ${key} is ${value}, expected an integer >= 1`);
    }
  }
  if (!(dropout >= 0 && dropout < 1)) {
    throw new UsageError(`${action}: dropout is ${dropout}, expected a rate in [0, 1)`);
  }
  if (dropout > 0 && layers < 2) {
    throw new UsageError(
      `${action}: dropout is ${dropout} with 1 layer; dropout acts between layers, so it needs layers >= 2`,
    );
  }
  const { nonlinearity = "tanh", resetAfter = false, init = "normal", seed = 0 } = options;
  // "tanh" and false are the defaults: accepted for any kind, as they change nothing there.
  checkCellOptions(
    { kind: definition.kind, inputSize, hiddenSize, definition },
    {
      nonlinearity: nonlinearity === "tanh" ? undefined : nonlinearity,
      resetAfter: resetAfter ? true : undefined,
      forgetBias: options.forgetBias,
    },
    action,
  );
  return {
    definition,
    custom: typeof cell !== "string",
    cell: definition.kind,
    inputSize,
    hiddenSize,
    layers,
    bidirectional,
    dropout,
    nonlinearity,
    resetAfter,
    init,
    seed,
  };
}

/** A registry kind's definition, or a UsageError naming the kinds there are. */
function findDefinition(kind: string, action: string): CellDefinition {
  try {
    return cellDefinition(kind);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    throw new UsageError(`${action}: cell is "${kind}", ${e.message.replace(/^.*: /, "")}`);
  }
}

/** One cell of the stack, its flags only where its kind takes them. */
function makeLayerCell(
  checked: CheckedOptions,
  sizes: { inputSize: number; hiddenSize: number },
  init: { init: InitName; seed: number },
  forgetBias: number | undefined,
): RecurrentCell {
  const def = checked.definition;
  const spec: CellSpec = { kind: def.kind, ...sizes };
  if (def.flags?.nonlinearity) spec.nonlinearity = checked.nonlinearity;
  if (def.flags?.resetAfter) spec.resetAfter = checked.resetAfter;
  if (checked.custom) spec.definition = def;
  return makeCell(spec, { ...init, forgetBias });
}

/**
 * Builds a stack of recurrent layers.
 *
 * @param options the cell kind, sizes, depth, direction and initialisation.
 * @throws {UsageError} for an unknown cell kind, a bad size or rate, or a flag on the wrong kind.
 *
 * @example A 2-layer bidirectional LSTM
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * const layer = recurrent({ cell: "lstm", inputSize: 5, hiddenSize: 4, layers: 2, bidirectional: true });
 * const { outputs, state } = layer.forward(tf.ones([3, 2, 5])); // [T, B, D]
 * deepStrictEqual(outputs.shape, [3, 2, 8]); // [T, B, 2H]
 * deepStrictEqual(state.length, 4); // l0, l0_reverse, l1, l1_reverse
 * deepStrictEqual(Object.keys(layer.getWeights()), ["l0", "l0_reverse", "l1", "l1_reverse"]);
 * layer.dispose();
 * ```
 */
export function recurrent(options: RecurrentOptions): Recurrent {
  const checked = checkOptions(options);
  const { inputSize, hiddenSize: H, layers, bidirectional, dropout } = checked;
  const kind = checked.definition.kind;
  const directions = bidirectional ? 2 : 1;
  const seeds = new Rng(checked.seed);
  const keys: string[] = [];
  const cells: RecurrentCell[] = [];
  for (let layer = 0; layer < layers; layer++) {
    for (let d = 0; d < directions; d++) {
      keys.push(torchSuffix(layer, d === 1));
      const sizes = { inputSize: layer === 0 ? inputSize : H * directions, hiddenSize: H };
      const init = { init: checked.init, seed: seeds.int(2 ** 32) };
      cells.push(makeLayerCell(checked, sizes, init, options.forgetBias));
    }
  }
  // Dropout masks drawn without a seed come from here, so a run is reproducible.
  const maskSeeds = new Rng(checked.seed ^ 0x2545f491);

  const forward = (
    xs: Tensor3D | SequenceRows,
    opts: RecurrentForwardOptions = {},
  ): RecurrentResult => {
    const action = `Cannot run the ${kind} stack`;
    const rows = isSequenceRows(xs);
    const shape = rows ? [...xs.ids.shape, xs.table.shape[1]] : xs.shape;
    if (shape.length !== 3 || shape[2] !== inputSize || shape[0] < 1) {
      throw new UsageError(
        `${action}: ${rows ? "rows (ids [T, B] of a table [V, D]) have" : "xs has"} shape ${
          formatShape(shape)
        }, expected [T, B, ${inputSize}] with T >= 1`,
      );
    }
    const [T, B] = shape;
    const initial = opts.initialState;
    if (initial !== undefined) {
      if (initial.length !== cells.length) {
        throw new UsageError(
          `${action}: initialState has ${initial.length} states, expected ${cells.length}` +
            ` (layers x directions, in the order ${keys.join(", ")})`,
        );
      }
      initial.forEach((s, k) =>
        checkState(`${action}: initialState[${k}] (${keys[k]})`, cells[k].spec, s, B)
      );
    }
    const masks = opts.training && dropout > 0;
    const maskSeed = masks ? opts.seed ?? maskSeeds.int(2 ** 31) : 0;
    if (opts.lengths !== undefined) checkLengths(opts.lengths, T, B, action);
    // A tensor only where the reverse direction needs one for its gather.
    const L = opts.lengths === undefined || directions === 1
      ? undefined
      : lengthsTensor(opts.lengths, T, B, action);
    // Reverse direction: step t reads x[T-1-t], or within each length when there are lengths.
    const reversed = (x: Tensor3D) => L ? reverseWithinLengths(x, L) : tf.reverse(x, 0) as Tensor3D;
    // Rows: the same reversal of the ids (a [T, B, 1] sequence), the table as it is.
    const reversedInput = (x: Tensor3D | SequenceRows): Tensor3D | SequenceRows =>
      isSequenceRows(x)
        ? { table: x.table, ids: tf.reshape(reversed(tf.expandDims(x.ids, 2)), [T, B]) }
        : reversed(x);
    const result = tidy(() => {
      let input: Tensor3D | SequenceRows = xs;
      const finals: State[] = [];
      for (let layer = 0; layer < layers; layer++) {
        const outputs: Tensor3D[] = [];
        for (let d = 0; d < directions; d++) {
          const k = layer * directions + d;
          const cell = cells[k];
          const start = initial?.[k] ?? zeroState(cell.spec, B);
          const reverse = d === 1;
          const seq = reverse ? reversedInput(input) : input;
          const run = runSequence(cell.spec, cell.weights, seq, start, { lengths: opts.lengths });
          outputs.push(reverse ? reversed(run.outputs) : run.outputs); // back in time order
          finals.push(run.state);
        }
        input = directions === 1 ? outputs[0] : tf.concat(outputs, 2); // [T, B, H * directions]
        if (masks && layer < layers - 1) {
          input = dropoutOf(input, dropout, {
            training: true,
            seed: betweenLayersSeed(maskSeed, layer),
          });
        }
      }
      return { outputs: input as Tensor3D, state: finals }; // a tensor after the first layer
    });
    L?.dispose();
    return result;
  };

  const step = (
    x: Tensor2D,
    states?: State[],
    opts: RecurrentStepOptions = {},
  ): RecurrentStepResult => {
    const action = `Cannot step the ${kind} stack`;
    if (directions !== 1) {
      throw new UsageError(
        `${action}: it is bidirectional, and a reverse direction needs the whole sequence; use forward()`,
      );
    }
    if (x.rank !== 2 || x.shape[1] !== inputSize) {
      throw new UsageError(
        `${action}: x has shape ${formatShape(x.shape)}, expected [B, ${inputSize}]`,
      );
    }
    const B = x.shape[0];
    if (states !== undefined && states.length !== layers) {
      throw new UsageError(
        `${action}: states has ${states.length} entries, expected ${layers} (one per layer)`,
      );
    }
    const masks = opts.training && dropout > 0;
    const maskSeed = masks ? opts.seed ?? maskSeeds.int(2 ** 31) : 0;
    return tidy(() => {
      let input = x;
      const next: State[] = [];
      for (let layer = 0; layer < layers; layer++) {
        const state = layerStep(
          cells[layer],
          input,
          states?.[layer] ?? zeroState(cells[layer].spec, B),
        );
        next.push(state);
        input = state.h;
        if (masks && layer < layers - 1) {
          input = dropoutOf(input, dropout, {
            training: true,
            seed: betweenLayersSeed(maskSeed, layer),
          });
        }
      }
      return { output: tf.clone(next[layers - 1].h), state: next };
    });
  };

  const specs: CellSpec[] = cells.map((cell) => cell.spec);
  /** Converts every entry first (which checks it), then assigns: all or nothing. */
  const assignAll = (convert: (k: number) => FusedWeights) => {
    const fused: FusedWeights[] = [];
    try {
      for (let k = 0; k < cells.length; k++) fused.push(convert(k));
      fused.forEach((w, k) => assignFused(cells[k].weights, w));
    } finally {
      fused.forEach(disposeFused);
    }
  };

  return {
    options: checked,
    outputSize: H * directions,
    cells,
    trainableVariables: cells.flatMap(({ weights }) => fusedTensors(weights)),
    forward,
    step,
    loadTorchStateDict(stateDict) {
      if (checked.custom) {
        throw new UsageError(`Cannot load a PyTorch state_dict into a user's own ${kind} cell`);
      }
      checkTorchStateDict({ kind, inputSize, hiddenSize: H, layers, bidirectional }, stateDict);
      assignAll((k) => fusedFromTorch(specs[k], stateDict, keys[k]));
    },
    getWeights: () => Object.fromEntries(cells.map((cell, k) => [keys[k], cell.getWeights()])),
    setWeights(weights) {
      const extra = Object.keys(weights).find((key) => !keys.includes(key));
      if (extra !== undefined) {
        throw new UsageError(
          `Cannot set stack weights: unexpected key "${extra}", expected ${keys.join(", ")}`,
        );
      }
      const missing = keys.find((key) => !(key in weights));
      if (missing !== undefined) {
        throw new UsageError(`Cannot set stack weights: missing key "${missing}"`);
      }
      assignAll((k) =>
        namedToFused(specs[k], weights[keys[k]], `Cannot set stack weights "${keys[k]}"`)
      );
    },
    dispose: () => cells.forEach((cell) => cell.dispose()),
  };
}
