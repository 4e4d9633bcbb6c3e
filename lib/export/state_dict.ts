/**
 * A language model or classifier as a PyTorch `state_dict`, and back:
 * `embedding.weight` `[V, E]` (an LM with one-hot inputs has none),
 * `rnn.weight_ih_l0`, `rnn.weight_hh_l0`, `rnn.bias_ih_l0`,
 * `rnn.bias_hh_l0` (`_reverse`, `l1`, ...: `nn.RNN`/`nn.GRU`/`nn.LSTM`'s
 * names, gate orders and layouts, see lib/cells/torch.ts), `out.weight`
 * `[outputs, W]` and `out.bias` (`nn.Linear`'s).
 *
 * So a model trained here loads into the same PyTorch module with
 * `load_state_dict(strict=True)`, and one trained in PyTorch runs here.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import {
  checkTorchStateDict,
  fusedFromTorch,
  fusedToTorch,
  type TorchStateDict,
  torchSuffix,
} from "../cells/torch.ts";
import { assignFused, disposeFused } from "../layers/cell.ts";
import type { FusedWeights } from "../cells/types.ts";
import type { Recurrent } from "../layers/stack.ts";
import { LanguageModel } from "../lm/model.ts";
import type { SequenceClassifier } from "../classify/model.ts";
import type { NamedArray } from "./safetensors.ts";

/** The models with a PyTorch twin: a language model or a classifier. */
export type TorchCompatible = LanguageModel | SequenceClassifier;

/** The non-recurrent variables of a model by state_dict name. */
function ownVariables(model: TorchCompatible): Record<string, tf.Variable> {
  if (model instanceof LanguageModel) {
    return {
      ...(model.embedding ? { "embedding.weight": model.embedding.table } : {}),
      "out.weight": model.output.kernel, // stored transposed: [W, V]
      "out.bias": model.output.bias!,
    };
  }
  return {
    "embedding.weight": model.embedding.table,
    "out.weight": model.output.kernel,
    "out.bias": model.output.bias!,
  };
}

/** The PyTorch shape of one of our own variables (`out.weight` is transposed). */
function torchShape(name: string, v: tf.Variable): number[] {
  return name === "out.weight" ? [v.shape[1]!, v.shape[0]] : v.shape;
}

/**
 * Every weight of a model under PyTorch's state_dict names, in PyTorch's layouts.
 *
 * @example The keys of a one-layer LSTM language model
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { LanguageModel, modelConfig } from "../lm/model.ts";
 * const model = new LanguageModel(modelConfig({ vocabSize: 5, cell: "lstm", hiddenSize: 3, embeddingSize: 2 }));
 * const sd = torchStateDictOf(model);
 * deepStrictEqual(Object.keys(sd), [
 *   "embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
 *   "out.weight", "out.bias",
 * ]);
 * deepStrictEqual(sd["rnn.weight_ih_l0"].shape, [12, 2]);
 * model.dispose();
 * ```
 */
export function torchStateDictOf(model: TorchCompatible): Record<string, NamedArray> {
  const out: Record<string, NamedArray> = {};
  const own = ownVariables(model);
  if (own["embedding.weight"]) {
    const e = own["embedding.weight"];
    out["embedding.weight"] = { shape: e.shape, data: e.dataSync() as Float32Array };
  }
  const rnn = model.rnn;
  const { hiddenSize: H } = rnn.options;
  const dirs = rnn.options.bidirectional ? 2 : 1;
  rnn.cells.forEach((cell, i) => {
    const suffix = torchSuffix(Math.floor(i / dirs), i % dirs === 1);
    const t = fusedToTorch(cell.spec, cell.weights);
    const GH = t.bias_ih.length;
    out[`rnn.weight_ih_${suffix}`] = { shape: [GH, cell.spec.inputSize], data: t.weight_ih };
    out[`rnn.weight_hh_${suffix}`] = { shape: [GH, H], data: t.weight_hh };
    out[`rnn.bias_ih_${suffix}`] = { shape: [GH], data: t.bias_ih };
    out[`rnn.bias_hh_${suffix}`] = { shape: [GH], data: t.bias_hh };
  });
  const W = own["out.weight"], b = own["out.bias"];
  out["out.weight"] = {
    shape: torchShape("out.weight", W),
    data: tf.tidy(() => tf.transpose(W).dataSync() as Float32Array),
  };
  out["out.bias"] = { shape: b.shape, data: b.dataSync() as Float32Array };
  return out;
}

/** Nested JS arrays of a row-major matrix or vector (the JSON state_dict form). */
function toJsonArray(t: NamedArray): number[] | number[][] {
  if (t.shape.length === 1) return Array.from(t.data);
  const [rows, cols] = t.shape;
  return Array.from(
    { length: rows },
    (_, r) => Array.from(t.data.subarray(r * cols, (r + 1) * cols)),
  );
}

/** Loads the `rnn.*` part into a stack; a reset-before GRU takes PyTorch's layout with b_hn = 0. */
function loadRecurrent(rnn: Recurrent, stateDict: TorchStateDict): void {
  const { cell: kind, inputSize, hiddenSize, layers, bidirectional } = rnn.options;
  checkTorchStateDict({ kind, inputSize, hiddenSize, layers, bidirectional }, stateDict);
  const dirs = bidirectional ? 2 : 1;
  const fused: FusedWeights[] = [];
  try {
    rnn.cells.forEach((cell, i) => {
      const suffix = torchSuffix(Math.floor(i / dirs), i % dirs === 1);
      const weights = fusedFromTorch(
        { ...cell.spec, resetAfter: kind === "gru" },
        stateDict,
        suffix,
      );
      fused.push(weights);
      if (kind === "gru" && !cell.spec.resetAfter) {
        // A reset-before GRU has no recurrent candidate bias: PyTorch's b_hn must be zero.
        if (weights.bhh!.dataSync().some((v) => v !== 0)) {
          throw new UsageError(
            `Cannot load rnn.bias_hh_${suffix} into a reset-before GRU: its candidate block is ` +
              "not zero, so it comes from a reset-after GRU (nn.GRU); build the model with " +
              "resetAfter: true",
          );
        }
        weights.bhh!.dispose();
        delete weights.bhh;
      }
    });
  } catch (error) {
    fused.forEach(disposeFused);
    throw error;
  }
  rnn.cells.forEach((cell, i) => assignFused(cell.weights, fused[i]));
  fused.forEach(disposeFused);
}

/**
 * Sets every weight of a model from a PyTorch state_dict of the same layout
 * (e.g. read from safetensors), after checking that no key is missing or
 * extra and every shape fits.
 *
 * @throws {UsageError} naming the key and both shapes, before anything changes.
 *
 * @example A round trip
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { LanguageModel, modelConfig } from "../lm/model.ts";
 * const config = modelConfig({ vocabSize: 5, cell: "gru", hiddenSize: 3, resetAfter: true });
 * const a = new LanguageModel(config), b = new LanguageModel({ ...config, seed: 1 });
 * loadTorchStateDictInto(b, torchStateDictOf(a));
 * deepStrictEqual(b.output.kernel.dataSync(), a.output.kernel.dataSync());
 * a.dispose();
 * b.dispose();
 * ```
 */
export function loadTorchStateDictInto(
  model: TorchCompatible,
  tensors: Record<string, NamedArray>,
): void {
  const own = ownVariables(model);
  const action = `Cannot load a PyTorch state_dict into the ${model.kind}`;
  const rnnPart: TorchStateDict = {};
  for (const [key, t] of Object.entries(tensors)) {
    if (key.startsWith("rnn.")) rnnPart[key.slice(4)] = toJsonArray(t);
    else if (!(key in own)) {
      throw new UsageError(
        `${action}: unexpected key "${key}"; expected ${Object.keys(own).join(", ")} and rnn.*`,
      );
    }
  }
  for (const [key, v] of Object.entries(own)) {
    const expected = torchShape(key, v);
    if (!(key in tensors)) {
      throw new UsageError(`${action}: missing key "${key}", expected shape [${expected}]`);
    }
    if (tensors[key].shape.join() !== expected.join()) {
      throw new UsageError(
        `${action}: "${key}" has shape [${tensors[key].shape}], expected [${expected}]`,
      );
    }
  }
  loadRecurrent(model.rnn, rnnPart);
  for (const [key, v] of Object.entries(own)) {
    const t = tensors[key];
    tf.tidy(() => {
      const value = tf.tensor(t.data, t.shape);
      v.assign(key === "out.weight" ? tf.transpose(value) : value);
    });
  }
}
