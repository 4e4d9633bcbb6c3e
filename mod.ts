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
export { tf } from "./lib/tfjs.ts";
export type {
  AdapterProbe,
  BackendInfo,
  BackendName,
  BackendRequest,
  UseBackendOptions,
} from "./lib/tf.ts";
export { NATIVE_BACKEND, nativeThreads, startNativeBackend } from "./lib/native/backend.ts";
export { loadNative, NATIVE_FLAGS } from "./lib/native/build.ts";
export type { LoadOptions, NativeLoad } from "./lib/native/build.ts";
export { UsageError } from "./lib/errors.ts";
export { Rng } from "./lib/rng.ts";
export * from "./lib/ops/mod.ts";
export * from "./lib/cells/mod.ts";
export * from "./lib/kernels/mod.ts";
export * from "./lib/layers/mod.ts";
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
  MetricPlotOptions,
  MetricSeries,
  PerplexityPlotOptions,
  PerplexityPoint,
} from "./lib/training/plot.ts";
export { metricPlotSvg } from "./lib/training/plot.ts";
export {
  crossEntropy,
  LanguageModel,
  LM_KIND,
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
  BestSoFar,
  EpochInfo,
  EpochMetrics,
  FitOptions,
  FitPosition,
  FitResult,
  Monitor,
  NonFinitePolicy,
  StepProgress,
} from "./lib/training/fit.ts";
export {
  checkKind,
  checkResumableRun,
  checkRunDir,
  loadModel,
  loadResumable,
  resolveCheckpointDir,
  RunWriter,
} from "./lib/training/run.ts";
export type {
  CheckpointChoice,
  CheckpointContents,
  CheckRunDirOptions,
  HistoryRow,
  LoadedModel,
  LoadModelOptions,
  ModelFactory,
  PlotDrawer,
  ResumableCheckpoint,
  RunWriterOptions,
  SaveOptions,
} from "./lib/training/run.ts";
export { fitLanguageModel, lmEpochMetrics } from "./lib/lm/fit.ts";
export { checkRunLock, LOCK_FILE, lockRunDir, runLockHolder } from "./lib/training/run_lock.ts";
export type { RunLock } from "./lib/training/run_lock.ts";
export { decayWeights, isScheduled, LR_SCHEDULES, scheduledRate } from "./lib/training/schedule.ts";
export type { LrSchedule, LrScheduleName } from "./lib/training/schedule.ts";
export type { LossOptions, LossResult, TrainableModel } from "./lib/training/model.ts";
export { checkMemory, formatBytes, memoryLimit, WASM_HEAP_BYTES } from "./lib/training/memory.ts";
export type { MemoryLimit } from "./lib/training/memory.ts";
export { estimateTrainingMemory } from "./lib/lm/memory.ts";
export type { MemoryEstimate } from "./lib/lm/memory.ts";
export type { LmEpochMetrics, LmFitOptions, LmFitResult } from "./lib/lm/fit.ts";
export { captureOptimizer, restoreOptimizer } from "./lib/training/optimizer_state.ts";
export { FusedAdam } from "./lib/training/adam.ts";
export type { OptimizerJson } from "./lib/training/optimizer_state.ts";
export { evaluatePerplexity } from "./lib/lm/evaluate.ts";
export type { EvaluateOptions, Evaluation, ReadableIds } from "./lib/lm/evaluate.ts";
export {
  checkDecodeOptions,
  chooseToken,
  generate,
  prefixTokens,
  sampleText,
} from "./lib/lm/sample.ts";
export type { DecodeOptions, GenerateOptions, SampleTextOptions } from "./lib/lm/sample.ts";
export { lmRunWriter, loadResumableRun, loadTrainedModel } from "./lib/lm/run.ts";
export type { ResumableRun, RunConfig, TrainedModel, TrainSettings } from "./lib/lm/run.ts";
export * from "./lib/corpus/mod.ts";
export { BUNDLED_CORPORA, bundledCorpus } from "./lib/corpus/bundled.ts";
export type { BundledCorpusInfo, BundledCorpusName } from "./lib/corpus/bundled.ts";
export {
  BOS,
  bucketBatches,
  encodeLabelled,
  EOS,
  foldAccents,
  LABELLED_RESERVED,
  labelledBatch,
  labelledTokens,
  labelledVocab,
  loadLabelled,
  PAD,
  stratifiedSplit,
} from "./lib/corpus/labelled.ts";
export type {
  BucketOptions,
  EncodeLabelledOptions,
  LabelledBatch,
  LabelledData,
  LabelledExample,
  LabelledTokenOptions,
  SplitOptions,
  SplitRecord,
  StratifiedSplit,
} from "./lib/corpus/labelled.ts";
export { prepareDataset } from "./lib/classify/data.ts";
export type { Dataset, DatasetSettings } from "./lib/classify/data.ts";
export {
  balancedClassWeights,
  CLASSIFIER_DEFAULTS,
  CLASSIFIER_HEADS,
  classifierConfig,
  SequenceClassifier,
} from "./lib/classify/model.ts";
export type { ClassifierConfig, ClassifierHead } from "./lib/classify/model.ts";
export { classifierBatches, evaluateClassifier, predictLabels } from "./lib/classify/evaluate.ts";
export type {
  ClassifierBatchOptions,
  ClassifierScores,
  LabelScore,
  PredictOptions,
} from "./lib/classify/evaluate.ts";
export { classificationMetrics, confusionMatrix, metricsTable } from "./lib/classify/metrics.ts";
export type { ClassificationMetrics, LabelMetrics } from "./lib/classify/metrics.ts";
export { confusionMatrixSvg } from "./lib/classify/plot.ts";
export type { ConfusionPlotOptions } from "./lib/classify/plot.ts";
export {
  ConditionedGenerator,
  CONDITIONINGS,
  GENERATOR_DEFAULTS,
  generatorConfig,
} from "./lib/generate/model.ts";
export type { Conditioning, GeneratorConfig, GeneratorForward } from "./lib/generate/model.ts";
export { generatorBatch, SPECIAL_IDS } from "./lib/generate/batch.ts";
export type { GeneratorBatch, SpecialIds } from "./lib/generate/batch.ts";
export { evaluateGenerator, generatorBatches } from "./lib/generate/evaluate.ts";
export type { GeneratorScores } from "./lib/generate/evaluate.ts";
export { sampleSequences } from "./lib/generate/sample.ts";
export type { SampleSequencesOptions } from "./lib/generate/sample.ts";
export * from "./lib/seq2seq/mod.ts";
export { namedWeightsOf, setNamedWeightsOf } from "./lib/training/named_weights.ts";
export { checkChoice, checkRate, checkSizes } from "./lib/training/config_checks.ts";
export {
  ATTRIBUTE_TYPES,
  encodeOnnxModel,
  ONNX_TYPES,
  readOnnxMetadata,
} from "./lib/export/onnx_proto.ts";
export type {
  AttributeValue,
  Dim,
  OnnxModel,
  OnnxNode,
  OnnxTensor,
  OnnxType,
  ValueInfo,
} from "./lib/export/onnx_proto.ts";
export { decodeSafetensors, encodeSafetensors } from "./lib/export/safetensors.ts";
export type { NamedArray, SafetensorsContents } from "./lib/export/safetensors.ts";
export { loadTorchStateDictInto, torchStateDictOf } from "./lib/export/state_dict.ts";
export type { TorchCompatible } from "./lib/export/state_dict.ts";
export { exportMetadata, tokenizerInfo } from "./lib/export/metadata.ts";
export type { ExportSource, TokenizerInfo } from "./lib/export/metadata.ts";
export { EXPORTABLE_KINDS, loadForExport } from "./lib/export/load.ts";
export type { ExportableModel, LoadedForExport } from "./lib/export/load.ts";
export { onnxFiles } from "./lib/export/onnx.ts";
export { EXPORT_FORMATS, exportCheckpoint } from "./lib/export/export.ts";
export type { ExportFormat, ExportOptions, ExportResult } from "./lib/export/export.ts";
