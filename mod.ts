/**
 * rnn-deno: train and run recurrent neural networks from Deno scripts, on
 * WebGPU, native C kernels, wasm or cpu, with TensorFlow.js underneath.
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
export { BACKEND_REQUESTS, describeBackend, probeWebGpu, useBackend } from "./lib/tf.ts";
export type {
  AdapterProbe,
  BackendInfo,
  BackendName,
  BackendRequest,
  UseBackendOptions,
} from "./lib/tf.ts";
export { tf } from "./lib/tfjs.ts";
export * from "./lib/errors.ts";
export * from "./lib/rng.ts";
export * from "./lib/ops/mod.ts";
export * from "./lib/corpus/mod.ts";
export * from "./lib/supervised/mod.ts";
export * from "./lib/cells/mod.ts";
export * from "./lib/decoding/mod.ts";
export * from "./lib/kernels/mod.ts";
export * from "./lib/layers/mod.ts";
export * from "./lib/native/mod.ts";
export * from "./lib/training/mod.ts";
export * from "./lib/lm/mod.ts";
export * from "./lib/classify/mod.ts";
export * from "./lib/generate/mod.ts";
export * from "./lib/seq2seq/mod.ts";
export * from "./lib/export/mod.ts";
