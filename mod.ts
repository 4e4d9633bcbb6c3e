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
export { CELL_KINDS, GATE_BLOCKS, GATE_COUNT } from "./lib/cells/types.ts";
export type {
  CellKind,
  CellSpec,
  FusedVariables,
  FusedWeights,
  NamedWeights,
  Nonlinearity,
  RecurrentCell,
  SequenceResult,
  State,
} from "./lib/cells/types.ts";
export {
  appendJsonLine,
  CHECKPOINT_FORMAT,
  CHECKPOINT_FORMAT_VERSION,
  loadCheckpoint,
  readJsonLines,
  readManifest,
  saveCheckpoint,
} from "./lib/training/checkpoint.ts";
export type {
  CheckpointInput,
  CheckpointManifest,
  JsonValue,
  LoadCheckpointOptions,
  LoadedCheckpoint,
  WeightEntry,
  WeightGroup,
} from "./lib/training/checkpoint.ts";
export { asciiLine, perplexityPlotSvg } from "./lib/training/plot.ts";
export type {
  AsciiLineOptions,
  PerplexityPlotOptions,
  PerplexityPoint,
} from "./lib/training/plot.ts";
export {
  crossEntropy,
  LanguageModel,
  MODEL_DEFAULTS,
  modelConfig,
  timeMajor,
} from "./lib/lm/model.ts";
export type { ForwardOptions, ForwardResult, ModelConfig, TokenBatch } from "./lib/lm/model.ts";
export {
  applyGradients,
  clipByGlobalNorm,
  computeGradients,
  globalNorm,
  makeOptimizer,
  OPTIMIZERS,
  trainStep,
} from "./lib/training/train.ts";
export type {
  Gradients,
  OptimizerName,
  TrainStepOptions,
  TrainStepResult,
} from "./lib/training/train.ts";
export { fit, NonFiniteLossError, SAMPLINGS } from "./lib/training/fit.ts";
export type {
  EpochMetrics,
  FitOptions,
  FitPosition,
  FitResult,
  NonFinitePolicy,
  StepProgress,
} from "./lib/training/fit.ts";
export { captureOptimizer, restoreOptimizer } from "./lib/training/optimizer_state.ts";
export type { OptimizerJson } from "./lib/training/optimizer_state.ts";
export { evaluatePerplexity } from "./lib/lm/evaluate.ts";
export type { EvaluateOptions, Evaluation, ReadableIds } from "./lib/lm/evaluate.ts";
export { checkDecodeOptions, chooseToken, generate, sampleText } from "./lib/lm/sample.ts";
export type { DecodeOptions, GenerateOptions, SampleTextOptions } from "./lib/lm/sample.ts";
export {
  checkRunDir,
  loadResumableRun,
  loadTrainedModel,
  resolveCheckpointDir,
  RunWriter,
} from "./lib/lm/run.ts";
export type { ResumableRun, RunConfig, TrainedModel } from "./lib/lm/run.ts";
export {
  rnnGates,
  rnnRecurrentGates,
  rnnStep,
  rnnWeightsFromNamed,
  rnnWeightsToNamed,
} from "./lib/cells/rnn.ts";
export type { RnnGates, RnnStepOptions } from "./lib/cells/rnn.ts";
export {
  gruGates,
  gruRecurrentGates,
  gruStep,
  gruWeightsFromNamed,
  gruWeightsToNamed,
} from "./lib/cells/gru.ts";
export type { GruGates, GruStepOptions } from "./lib/cells/gru.ts";
export {
  lstmGates,
  lstmRecurrentGates,
  lstmStep,
  lstmWeightsFromNamed,
  lstmWeightsToNamed,
} from "./lib/cells/lstm.ts";
export type { LstmGates } from "./lib/cells/lstm.ts";
export {
  INIT_NAMES,
  initialWeights,
  normalMatrix,
  orthogonalMatrix,
  xavierMatrix,
} from "./lib/cells/init.ts";
export type { InitName, InitOptions } from "./lib/cells/init.ts";
export {
  checkSequence,
  plainSequence,
  runSequence,
  useFusedSequences,
} from "./lib/layers/sequence.ts";
export { fusedSequence } from "./lib/kernels/fused_sequence.ts";
export { linear } from "./lib/kernels/linear.ts";
export { webgpuSequence } from "./lib/kernels/webgpu/sequence.ts";
export {
  checkTorchStateDict,
  fusedFromTorch,
  torchShapes,
  torchSuffix,
} from "./lib/cells/torch.ts";
export type { TorchLayout, TorchStateDict } from "./lib/cells/torch.ts";
export { recurrentStep } from "./lib/cells/step.ts";
export { disposeStates, stateTensors } from "./lib/cells/state.ts";
export { gruCell, lstmCell, rnnCell } from "./lib/layers/cell.ts";
export type { GruCellOptions, LstmCellOptions, RnnCellOptions } from "./lib/layers/cell.ts";
export { recurrent } from "./lib/layers/stack.ts";
export type {
  Recurrent,
  RecurrentForwardOptions,
  RecurrentOptions,
  RecurrentResult,
} from "./lib/layers/stack.ts";
export * from "./lib/corpus/mod.ts";
