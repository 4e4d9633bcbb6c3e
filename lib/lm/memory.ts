/**
 * An estimate of the memory a language model needs to train, from its
 * config and batch shape alone, so a run can refuse before building it.
 *
 * @module
 */
import { GATE_COUNT } from "../cells/types.ts";
import type { ModelConfig } from "./model.ts";
import type { OptimizerName } from "../training/train.ts";

/** The parts of an estimate, in bytes. */
export interface MemoryEstimate {
  /** Trainable parameters (a count, not bytes). */
  parameters: number;
  /** Weights, gradients, clipped gradients and optimizer slots. */
  parameterBytes: number;
  /** What one step keeps for the backward pass: inputs, gates, states, logits. */
  activationBytes: number;
  /** The sum. */
  totalBytes: number;
}

/**
 * Estimates the memory of one training step of a language model (float32):
 * the parameters with their gradients, a clipped copy and the optimizer's
 * slots (two for Adam), and the activations kept for back-propagation
 * through time (inputs, every gate, outputs and their gradients, logits,
 * softmax and targets). An estimate within a small factor, for refusing
 * what cannot fit, not for planning to the byte.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * import { modelConfig } from "./model.ts";
 * const small = estimateTrainingMemory(
 *   modelConfig({ vocabSize: 28, cell: "lstm", hiddenSize: 256 }),
 *   { batchSize: 32, numSteps: 35, optimizer: "adam" },
 * );
 * ok(small.totalBytes < 100 * 1024 ** 2);
 * ```
 */
export function estimateTrainingMemory(
  config: ModelConfig,
  shape: { batchSize: number; numSteps: number; optimizer: OptimizerName },
): MemoryEstimate {
  const { vocabSize: V, hiddenSize: H, embeddingSize: E, layers } = config;
  const G = GATE_COUNT[config.cell];
  const directions = config.bidirectional ? 2 : 1;
  const rows = shape.batchSize * shape.numSteps; // T*B
  let parameters = E > 0 ? V * E : 0;
  let activations = rows * (E > 0 ? E : V); // the inputs
  for (let layer = 0; layer < layers; layer++) {
    const input = layer === 0 ? (E > 0 ? E : V) : H * directions;
    parameters += directions * G * H * (input + H + 2);
    // Gates, outputs and states per step, and as much again for their gradients.
    activations += 2 * directions * rows * H * (G + 2);
  }
  parameters += H * directions * V + V;
  activations += 4 * rows * V; // logits, log-softmax, one-hot targets, their gradient
  const slots = shape.optimizer === "adam" ? 2 : 0;
  const parameterBytes = 4 * parameters * (3 + slots);
  const activationBytes = 4 * activations;
  return {
    parameters,
    parameterBytes,
    activationBytes,
    totalBytes: parameterBytes + activationBytes,
  };
}
