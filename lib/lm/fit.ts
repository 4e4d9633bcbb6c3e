/**
 * Training a {@linkcode LanguageModel} with the model-agnostic core: the
 * core's {@linkcode fit} with the state carried in sequential order,
 * perplexity on a validation split as the monitored metric, and the epoch
 * metrics in a language model's terms (perplexity, tokens).
 *
 * @module
 */
import type { LanguageModel } from "./model.ts";
import { evaluatePerplexity, type ReadableIds } from "./evaluate.ts";
import {
  type EpochInfo,
  type EpochMetrics,
  fit,
  type FitOptions,
  type FitPosition,
  type FitResult,
} from "../training/fit.ts";
import type { Minibatch, Sampling } from "../corpus/batches.ts";

/**
 * An epoch of a language model, as `train --json` prints it and metrics.jsonl
 * keeps it (a type, not an interface, so that it is a history row).
 */
export type LmEpochMetrics = {
  /** The epoch, from 1. */
  epoch: number;
  /** exp(mean training cross-entropy per token). */
  trainPerplexity: number;
  /** Absent when there is no validation split. */
  validPerplexity?: number;
  /** Training tokens seen this epoch. */
  tokens: number;
  /** Training time of the epoch (validation excluded), seconds. */
  seconds: number;
  /** Training tokens per second this epoch. */
  tokensPerSec: number;
};

/** Options of {@linkcode fitLanguageModel}: the core's, in a language model's terms. */
export interface LmFitOptions extends
  Omit<
    FitOptions<Minibatch>,
    "carry" | "validate" | "monitor" | "checkEpoch" | "onEpoch"
  > {
  /** sequential carries (detached) state across minibatches; random resets it. */
  sampling: Sampling;
  /** Validation ids, or undefined for none; its perplexity decides the best epoch. */
  valid?: ReadableIds;
  /** Rows and steps of the validation pass. */
  batchSize: number;
  /** Time steps of a validation minibatch. */
  numSteps: number;
  /** Called after each epoch with where the next one starts; awaited. */
  onEpoch?: (metrics: LmEpochMetrics, next: FitPosition, info: EpochInfo) => void | Promise<void>;
}

/** What {@linkcode fitLanguageModel} returns. */
export interface LmFitResult extends Omit<FitResult, "history"> {
  /** One record per finished epoch. */
  history: LmEpochMetrics[];
}

/**
 * A core epoch's metrics in a language model's terms.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const row = lmEpochMetrics({
 *   epoch: 1, trainLoss: Math.log(10), items: 100, seconds: 2, itemsPerSec: 50,
 *   validation: { validPerplexity: 12 },
 * });
 * strictEqual(Math.round(row.trainPerplexity), 10);
 * strictEqual(row.tokensPerSec, 50);
 * ```
 */
export function lmEpochMetrics(metrics: EpochMetrics): LmEpochMetrics {
  const row: LmEpochMetrics = {
    epoch: metrics.epoch,
    trainPerplexity: Math.exp(metrics.trainLoss),
    tokens: metrics.items,
    seconds: metrics.seconds,
    tokensPerSec: metrics.itemsPerSec,
  };
  if (metrics.validation.validPerplexity !== undefined) {
    row.validPerplexity = metrics.validation.validPerplexity;
  }
  return row;
}

/**
 * Trains a language model from a position (or the start) through epoch
 * `epochs`, with the validation split's perplexity as the monitored metric
 * (lower is better) for the best epoch and `patience`. A perplexity that
 * overflows to Infinity counts as divergence, like a NaN loss.
 *
 * @throws {NonFiniteLossError} when the run diverges (see the core's `fit`).
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { LanguageModel, modelConfig } from "./model.ts";
 * import { makeOptimizer } from "../training/train.ts";
 * import { Rng } from "../rng.ts";
 * const model = new LanguageModel(modelConfig({ vocabSize: 3, cell: "rnn", hiddenSize: 8 }));
 * const batch = { x: Int32Array.of(0, 1, 2, 0), y: Int32Array.of(1, 2, 0, 1), batchSize: 1, numSteps: 4 };
 * const { history } = await fitLanguageModel(model, {
 *   epochs: 30, optimizer: makeOptimizer("adam", 0.05), sampling: "random", rng: new Rng(0),
 *   batches: () => Object.assign([batch], { numBatches: 1 }), batchSize: 1, numSteps: 4,
 * });
 * ok(history[29].trainPerplexity < history[0].trainPerplexity);
 * model.dispose();
 * ```
 */
export async function fitLanguageModel(
  model: LanguageModel,
  options: LmFitOptions,
): Promise<LmFitResult> {
  const { sampling, valid, batchSize, numSteps, onEpoch, ...core } = options;
  const result = await fit(model, {
    ...core,
    ...lmFitParts(model, { sampling, valid, batchSize, numSteps }),
    onEpoch: onEpoch && ((metrics, next, info) => onEpoch(lmEpochMetrics(metrics), next, info)),
  });
  return { ...result, history: result.history.map(lmEpochMetrics) };
}

/**
 * What makes the core's {@linkcode fit} train a language model: the state
 * carried across minibatches read in sequential order, the validation
 * split's perplexity as the monitored metric (lower is better), and a
 * perplexity that overflows to Infinity counted as divergence. A task script
 * spreads these into its shared training loop.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { LanguageModel, modelConfig } from "./model.ts";
 * const model = new LanguageModel(modelConfig({ vocabSize: 3, cell: "rnn", hiddenSize: 4 }));
 * const parts = lmFitParts(model, { sampling: "sequential", batchSize: 1, numSteps: 2 });
 * strictEqual(parts.carry, true);
 * strictEqual(parts.validate, undefined); // no validation split
 * model.dispose();
 * ```
 */
export function lmFitParts(
  model: LanguageModel,
  options: Pick<LmFitOptions, "sampling" | "valid" | "batchSize" | "numSteps">,
): Pick<FitOptions<Minibatch>, "carry" | "validate" | "monitor" | "checkEpoch"> {
  const { sampling, valid, batchSize, numSteps } = options;
  const validate = valid && valid.length >= 2
    ? async () => {
      const { perplexity } = await evaluatePerplexity(model, valid, { batchSize, numSteps });
      return { validPerplexity: perplexity };
    }
    : undefined;
  return {
    carry: sampling === "sequential",
    validate,
    monitor: validate ? { metric: "validPerplexity", mode: "min" } : undefined,
    checkEpoch: (metrics) => {
      const perplexity = Math.exp(metrics.trainLoss);
      return Number.isFinite(perplexity)
        ? undefined
        : `train perplexity ${perplexity} (mean loss ${metrics.trainLoss} nats per token)`;
    },
  };
}
