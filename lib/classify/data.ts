/**
 * A labelled data set made ready for a model: loaded, split per label
 * (stratified, seeded), a vocabulary from the training split (or the one a
 * checkpoint saved), and every example encoded. Shared by the classifier and
 * the conditioned generator.
 *
 * @module
 */
import type { Vocab } from "../corpus/vocab.ts";
import type { TokenKind } from "../corpus/tokenize.ts";
import {
  encodeLabelled,
  type LabelledData,
  labelledVocab,
  loadLabelled,
  type SplitRecord,
  type StratifiedSplit,
  stratifiedSplit,
} from "../corpus/labelled.ts";

/** How a data set is read and split: saved in a run's config. */
export interface DatasetSettings {
  /** A folder of `<label>.txt` files or a `label<TAB>text` file. */
  source: string;
  token: TokenKind;
  foldAccents: boolean;
  validFraction: number;
  testFraction: number;
  /** Seed of the split. */
  seed: number;
}

/** What {@linkcode prepareDataset} returns. */
export interface Dataset {
  settings: DatasetSettings;
  data: LabelledData;
  split: StratifiedSplit;
  record: SplitRecord;
  vocab: Vocab;
  /** Every example's ids, by example index (tokens outside the vocabulary are `<unk>`). */
  sequences: Int32Array[];
  /** Every example's label id, by example index. */
  labels: Int32Array;
}

/**
 * Loads, splits and encodes a labelled data set.
 *
 * @param vocab the vocabulary to encode with (a checkpoint's); built from
 *   the training split when omitted.
 * @throws {UsageError} for bad data (see `loadLabelled`) or fractions.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "ab\nba\naab\n");
 * await Deno.writeTextFile(`${dir}/b.txt`, "xy\nyx\nxxy\n");
 * const set = await prepareDataset({ source: dir, token: "char", foldAccents: false, validFraction: 0.34, testFraction: 0.34, seed: 0 });
 * strictEqual(set.split.train.length, 2);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function prepareDataset(settings: DatasetSettings, vocab?: Vocab): Promise<Dataset> {
  const data = await loadLabelled(settings.source);
  const labels = Int32Array.from(data.examples, (e) => e.label);
  const { split, record } = stratifiedSplit(labels, settings);
  const options = { token: settings.token, foldAccents: settings.foldAccents };
  const used = vocab ?? labelledVocab(split.train.map((i) => data.examples[i].text), options);
  const sequences = data.examples.map((e) => encodeLabelled(used, e.text, options));
  return { settings, data, split, record, vocab: used, sequences, labels };
}
