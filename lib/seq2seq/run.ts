/**
 * A translate run on disk: the config it saves, its two vocabularies, and
 * loading it back typed, for `deno task translate` (training, `--resume`,
 * `--evaluate`, translating with a trained run).
 *
 * @module
 */
import { Seq2Seq } from "./model.ts";
import { type Seq2SeqConfig, seq2seqConfig } from "./config.ts";
import type { PairDataSettings } from "./dataset.ts";
import type { PairVocabs } from "../supervised/pairs.ts";
import { Vocab } from "../corpus/vocab.ts";
import { UsageError } from "../errors.ts";
import type { TrainSettings } from "../training/settings.ts";
import {
  type CheckpointChoice,
  type LoadedModel,
  loadModel,
  type LoadModelOptions,
} from "../training/run.ts";

/** What a translate run saves as its config. */
export interface TranslateRunConfig {
  /** The encoder-decoder's shape. */
  model: Seq2SeqConfig;
  /** Where the pairs came from and how they were split and tokenized. */
  data: PairDataSettings;
  /** How it was trained. */
  train: TrainSettings;
}

/**
 * The encoder-decoder's half of loading a checkpoint: its kind, and the model
 * its saved config builds.
 *
 * @example Its kind
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { SEQ2SEQ_RUN } from "./run.ts";
 * strictEqual(SEQ2SEQ_RUN.kind, "seq2seq");
 * ```
 */
export const SEQ2SEQ_RUN: LoadModelOptions<Seq2Seq, TranslateRunConfig> = {
  kind: "seq2seq",
  build: (config) => new Seq2Seq(seq2seqConfig(config.model)),
};

/**
 * The source and target vocabularies a translate run saves as its vocab.
 *
 * @throws {UsageError} when the saved vocab is not a `{ source, target }` pair.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { Vocab } from "../corpus/vocab.ts";
 * const saved = { source: Vocab.build(["a"]).toJSON(), target: Vocab.build(["b"]).toJSON() };
 * strictEqual(pairVocabsOf(saved, "runs/x").target.has("b"), true);
 * ```
 */
export function pairVocabsOf(json: unknown, path: string): PairVocabs {
  if (typeof json !== "object" || json === null || !("source" in json) || !("target" in json)) {
    throw new UsageError(`Cannot load "${path}": its vocabulary is not a source and target pair`);
  }
  return { source: Vocab.fromJSON(json.source), target: Vocab.fromJSON(json.target) };
}

/**
 * Loads a trained encoder-decoder from a run or checkpoint directory, with
 * its config typed and its vocabularies read.
 *
 * @param which for a run directory: its `best` or `last` checkpoint.
 * @throws {UsageError} when it is not a checkpoint or holds another kind.
 *
 * @example A directory that is not a checkpoint
 * ```ts
 * import { rejects } from "node:assert";
 * import { UsageError } from "../errors.ts";
 * import { loadTranslateRun } from "./run.ts";
 * const dir = await Deno.makeTempDir();
 * await rejects(loadTranslateRun(dir), UsageError);
 * await Deno.remove(dir);
 * ```
 */
export async function loadTranslateRun(
  dir: string,
  which: CheckpointChoice = "best",
): Promise<LoadedModel<Seq2Seq, TranslateRunConfig> & { vocabs: PairVocabs }> {
  const loaded = await loadModel(dir, { ...SEQ2SEQ_RUN, which });
  try {
    return { ...loaded, vocabs: pairVocabsOf(loaded.vocab, loaded.path) };
  } catch (error) {
    loaded.model.dispose();
    throw error;
  }
}
