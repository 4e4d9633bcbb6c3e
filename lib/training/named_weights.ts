/**
 * A model's weights as one flat record of named tensors, the form
 * checkpoints hold: the model's own variables under fixed keys, and each
 * recurrent stack's weights as `<prefix>/<layer>/<d2l name>`. Every model
 * kind builds its `namedWeights` and `setNamedWeights` from these (or
 * inherits both from {@linkcode NamedWeightsModel}), so the checks (a
 * missing, extra or misshapen key) read the same for all.
 *
 * @module
 */
import type { Tensor, Variable } from "../ops/tensors.ts";
import { UsageError } from "../errors.ts";
import type { Recurrent } from "../layers/stack.ts";
import type { Embedding } from "../layers/embedding.ts";
import type { Dense } from "../layers/dense.ts";

/**
 * A model's weights: copies of `own` under their keys, then each stack's
 * under its prefix. New tensors the caller disposes.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { recurrent } from "../layers/stack.ts";
 * const rnn = recurrent({ cell: "rnn", inputSize: 2, hiddenSize: 3 });
 * const out = tf.variable(tf.zeros([3, 4]));
 * const named = namedWeightsOf({ "out/W": out }, { rnn });
 * deepStrictEqual(Object.keys(named), ["out/W", "rnn/l0/W_xh", "rnn/l0/W_hh", "rnn/l0/b_h"]);
 * ```
 */
export function namedWeightsOf(
  own: Record<string, Variable>,
  stacks: Record<string, Recurrent>,
): Record<string, Tensor> {
  const named: Record<string, Tensor> = {};
  for (const [key, variable] of Object.entries(own)) named[key] = variable.clone();
  for (const [prefix, stack] of Object.entries(stacks)) {
    for (const [layer, weights] of Object.entries(stack.getWeights())) {
      for (const [name, tensor] of Object.entries(weights)) {
        named[`${prefix}/${layer}/${name}`] = tensor;
      }
    }
  }
  return named;
}

/**
 * Replaces a model's weights from a record like {@linkcode namedWeightsOf}'s:
 * every key is checked (none missing, none extra, shapes equal) before
 * anything changes; the tensors are copied, not disposed.
 *
 * @throws {UsageError} naming the key and what was expected.
 *
 * @example Set a weight by name
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { tf } from "../tf.ts";
 * import { setNamedWeightsOf } from "./named_weights.ts";
 * const out = tf.variable(tf.zeros([2]));
 * setNamedWeightsOf({ "out/b": tf.ones([2]) }, { "out/b": out }, {});
 * deepStrictEqual([...out.dataSync()], [1, 1]);
 * ```
 */
export function setNamedWeightsOf(
  named: Record<string, Tensor>,
  own: Record<string, Variable>,
  stacks: Record<string, Recurrent>,
): void {
  const layers: Record<string, Record<string, Record<string, Tensor>>> = {};
  for (const prefix of Object.keys(stacks)) layers[prefix] = {};
  for (const [key, tensor] of Object.entries(named)) {
    if (key in own) continue;
    const prefix = Object.keys(stacks).find((p) => key.startsWith(`${p}/`));
    const rest = prefix === undefined ? [] : key.slice(prefix.length + 1).split("/");
    if (prefix === undefined || rest.length !== 2) {
      throw new UsageError(`Cannot load weights: unexpected key "${key}" for this model`);
    }
    (layers[prefix][rest[0]] ??= {})[rest[1]] = tensor;
  }
  for (const [key, target] of Object.entries(own)) {
    const source = named[key];
    if (source === undefined) throw new UsageError(`Cannot load weights: missing key "${key}"`);
    if (source.shape.join() !== target.shape.join()) {
      throw new UsageError(
        `Cannot load weights: "${key}" has shape [${source.shape}], expected [${target.shape}]`,
      );
    }
  }
  // Each stack checks all of its layers before it assigns any.
  for (const [prefix, stack] of Object.entries(stacks)) {
    stack.setWeights(layers[prefix]);
  }
  for (const [key, target] of Object.entries(own)) target.assign(named[key]);
}

/**
 * The checkpoint names of a model's embedding and dense layers: an
 * embedding's table under its name, a dense layer's kernel and bias under
 * `<name>/W` and `<name>/b`. An absent (optional) layer is left out.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { embedding } from "../layers/embedding.ts";
 * import { dense } from "../layers/dense.ts";
 * const [table, out] = [embedding({ vocabSize: 3, size: 2 }), dense({ inputSize: 2, outputSize: 3 })];
 * deepStrictEqual(Object.keys(layerVariables({ embedding: table, out, extra: undefined })), ["embedding", "out/W", "out/b"]);
 * table.dispose();
 * out.dispose();
 * ```
 */
export function layerVariables(
  layers: Record<string, Embedding | Dense | undefined>,
): Record<string, Variable> {
  const named: Record<string, Variable> = {};
  for (const [name, layer] of Object.entries(layers)) {
    if (layer === undefined) continue;
    if ("table" in layer) named[name] = layer.table;
    else {
      named[`${name}/W`] = layer.kernel;
      if (layer.bias) named[`${name}/b`] = layer.bias;
    }
  }
  return named;
}

/** What {@linkcode NamedWeightsModel} names: its own variables by key, its stacks by prefix. */
export interface WeightParts {
  /** The variables besides the stacks, by checkpoint name. */
  own: Record<string, Variable>;
  /** The recurrent stacks, by the prefix of their weights' names. */
  stacks: Record<string, Recurrent>;
}

/**
 * A model whose checkpoint weights are its own variables and its recurrent
 * stacks: it says once what they are ({@linkcode NamedWeightsModel.weightParts})
 * and inherits `namedWeights` and `setNamedWeights`, so that reading and
 * setting weights by name cannot drift apart between models.
 *
 * @example A model of one dense layer
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * import { dense } from "../layers/dense.ts";
 * import { layerVariables, NamedWeightsModel, type WeightParts } from "./named_weights.ts";
 * class Head extends NamedWeightsModel {
 *   readonly out = dense({ inputSize: 2, outputSize: 1 });
 *   protected weightParts(): WeightParts {
 *     return { own: layerVariables({ out: this.out }), stacks: {} };
 *   }
 * }
 * const head = new Head();
 * deepStrictEqual(Object.keys(head.namedWeights()), ["out/W", "out/b"]);
 * head.out.dispose();
 * ```
 */
export abstract class NamedWeightsModel {
  /** The model's weights: its own variables by checkpoint name and its stacks by prefix. */
  protected abstract weightParts(): WeightParts;

  /** Every weight by checkpoint name ({@linkcode namedWeightsOf}): new tensors the caller disposes. */
  namedWeights(): Record<string, Tensor> {
    const { own, stacks } = this.weightParts();
    return namedWeightsOf(own, stacks);
  }

  /**
   * Replaces every weight ({@linkcode setNamedWeightsOf}); every name and
   * shape is checked before anything changes.
   *
   * @throws {UsageError} naming a missing or extra key, or a shape that differs.
   */
  setNamedWeights(named: Record<string, Tensor>): void {
    const { own, stacks } = this.weightParts();
    setNamedWeightsOf(named, own, stacks);
  }
}
