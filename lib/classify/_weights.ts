/**
 * Named-weight plumbing shared by the classifier and the generator: config
 * size checks, and the flat `rnn/<layer>/<d2l name>` record of a stack's
 * weights next to a model's own variables.
 *
 * @module
 */
import type { tf } from "../tf.ts";
import { UsageError } from "../errors.ts";
import type { Recurrent } from "../layers/stack.ts";
import type { NamedWeights } from "../cells/types.ts";

/** Throws unless every named field of `config` is an integer >= 1. */
export function checkSizes<C>(action: string, config: C, keys: readonly (keyof C)[]): void {
  for (const key of keys) {
    const value = config[key];
    if (!Number.isInteger(value) || (value as number) < 1) {
      throw new UsageError(`${action}: ${String(key)} is ${value}, expected an integer >= 1`);
    }
  }
}

/** A stack's weights as `rnn/<layer>/<name>` entries: new tensors the caller disposes. */
export function stackNamed(rnn: Recurrent): Record<string, tf.Tensor> {
  const named: Record<string, tf.Tensor> = {};
  for (const [layer, weights] of Object.entries(rnn.getWeights())) {
    for (const [name, tensor] of Object.entries(weights)) named[`rnn/${layer}/${name}`] = tensor;
  }
  return named;
}

/**
 * The `rnn/...` entries of a record grouped by layer, for `Recurrent.setWeights`.
 *
 * @param own the model's other keys; anything else not under `rnn/` is an error.
 */
export function stackWeights(
  named: Record<string, tf.Tensor>,
  own: readonly string[],
): Record<string, NamedWeights> {
  const layers: Record<string, Record<string, tf.Tensor>> = {};
  for (const [key, tensor] of Object.entries(named)) {
    const match = /^rnn\/([^/]+)\/(.+)$/.exec(key);
    if (match) (layers[match[1]] ??= {})[match[2]] = tensor;
    else if (!own.includes(key)) {
      throw new UsageError(`Cannot load weights: unexpected key "${key}" for this model`);
    }
  }
  return layers as unknown as Record<string, NamedWeights>;
}

/** Checks that `named` has every key of `own` with the same shape. */
export function checkNamed(
  named: Record<string, tf.Tensor>,
  own: Record<string, tf.Variable>,
): void {
  for (const [key, target] of Object.entries(own)) {
    const source = named[key];
    if (source === undefined) throw new UsageError(`Cannot load weights: missing key "${key}"`);
    if (source.shape.join() !== target.shape.join()) {
      throw new UsageError(
        `Cannot load weights: "${key}" has shape [${source.shape}], expected [${target.shape}]`,
      );
    }
  }
}

/** Assigns every entry of `own` from `named` (checked by {@linkcode checkNamed} first). */
export function assignNamed(
  named: Record<string, tf.Tensor>,
  own: Record<string, tf.Variable>,
): void {
  for (const [key, target] of Object.entries(own)) target.assign(named[key]);
}
