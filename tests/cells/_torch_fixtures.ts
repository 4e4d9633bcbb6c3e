/**
 * The PyTorch fixtures in data/fixtures/torch/ (scripts/make_torch_fixtures.py
 * and make_packed_fixtures.py, PyTorch 1.13, float64): their common fields,
 * loading one, and the stack and initial state they describe.
 */
import { tf } from "../../lib/tf.ts";
import type { State } from "../../lib/cells/types.ts";
import type { TorchStateDict } from "../../lib/cells/torch.ts";
import { type Recurrent, recurrent } from "../../lib/layers/stack.ts";
import type { Mat } from "../_reference.ts";

/** What every PyTorch fixture holds: the stack's layout and weights, its input and results. */
export interface TorchFixture {
  description: string;
  kind: "rnn" | "gru" | "lstm";
  inputSize: number;
  hiddenSize: number;
  layers: number;
  bidirectional: boolean;
  nonlinearity: "tanh" | "relu" | null;
  stateDict: TorchStateDict;
  input: Mat[];
  output: Mat[];
  h_n: Mat[];
  c_n?: Mat[];
  /** The initial state per layer and direction, batch order (where the fixture gives one). */
  h0?: Mat[];
  c0?: Mat[];
}

const DIR = new URL("../../data/fixtures/torch/", import.meta.url);

/** Reads the fixture `<name>.json`. */
export async function loadTorchFixture<F extends TorchFixture>(name: string): Promise<F> {
  return JSON.parse(await Deno.readTextFile(new URL(`${name}.json`, DIR)));
}

/** A stack with the fixture's layout (a GRU resets after, as PyTorch's), weights not loaded. */
export function torchStack(f: TorchFixture): Recurrent {
  return recurrent({
    cell: f.kind,
    inputSize: f.inputSize,
    hiddenSize: f.hiddenSize,
    layers: f.layers,
    bidirectional: f.bidirectional,
    ...(f.kind === "rnn" ? { nonlinearity: f.nonlinearity! } : {}),
    ...(f.kind === "gru" ? { resetAfter: true } : {}),
  });
}

/** The fixture's initial state as new tensors, per layer and direction. */
export function torchInitialState(h0: Mat[], c0: Mat[] | undefined): State[] {
  return h0.map((h, k) => {
    const s: State = { h: tf.tensor2d(h) };
    if (c0) s.c = tf.tensor2d(c0[k]);
    return s;
  });
}
