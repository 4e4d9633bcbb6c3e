/**
 * rnn-deno: train and run recurrent neural networks from Deno scripts, on
 * WebGPU, wasm or cpu, with TensorFlow.js underneath.
 *
 * @example Start a backend
 * ```ts
 * import { useBackend } from "./mod.ts";
 * const info = await useBackend("cpu");
 * console.log(info.name);
 * ```
 *
 * @module
 */
export { BACKEND_REQUESTS, describeBackend, probeWebGpu, tf, useBackend } from "./lib/tf.ts";
export type { AdapterProbe, BackendInfo, BackendName, BackendRequest } from "./lib/tf.ts";
export { UsageError } from "./lib/errors.ts";
export { Rng } from "./lib/rng.ts";
export { CELL_KINDS, GATE_COUNT } from "./lib/cells/types.ts";
export type {
  CellKind,
  CellSpec,
  FusedWeights,
  NamedWeights,
  Nonlinearity,
  SequenceResult,
  State,
} from "./lib/cells/types.ts";
