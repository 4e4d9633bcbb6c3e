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
} from "./labelled.ts";

/** How a data set is read and split: saved in a run's config. */
export interface DatasetSettings {
  /** A folder of `<label>.txt` files or a `label<TAB>text` file. */
  source: string;
  /** How texts are split into tokens (`char` or `word`). */
  token: TokenKind;
  /** Whether accents are folded to plain letters before tokenizing. */
  foldAccents: boolean;
  /** Fraction of the examples held out for validation, per class. */
  validFraction: number;
  /** Fraction of the examples held out for testing, per class. */
  testFraction: number;
  /** Seed of the split. */
  seed: number;
  /**
   * Drop repeated (text, label) pairs and keep each text in one part (see
   * `stratifiedSplit`'s `texts`). Runs saved before this setting existed
   * leave it out and split as they did. @default false
   */
  dedupe?: boolean;
}

/** What {@linkcode prepareDataset} returns. */
export interface Dataset {
  /** The settings the data set was built with. */
  settings: DatasetSettings;
  /** The examples and their label names. */
  data: LabelledData;
  /** Which examples went to train, valid and test. */
  split: StratifiedSplit;
  /** The split as saved in the run directory (`split.json`). */
  record: SplitRecord;
  /** The token vocabulary built from the training texts. */
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
  const { split, record } = stratifiedSplit(labels, {
    ...settings,
    texts: settings.dedupe ? data.examples.map((e) => e.text) : undefined,
  });
  const options = { token: settings.token, foldAccents: settings.foldAccents };
  const used = vocab ?? labelledVocab(split.train.map((i) => data.examples[i].text), options);
  const sequences = data.examples.map((e) => encodeLabelled(used, e.text, options));
  return { settings, data, split, record, vocab: used, sequences, labels };
}

/**
 * What a user should know about a data set's split, one line each: repeated
 * (text, label) pairs dropped, texts that carry several labels, and labels
 * with too few examples to appear in every held-out part.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "ab\nab\nba\naab\n");
 * await Deno.writeTextFile(`${dir}/b.txt`, "xy\nab\n");
 * const set = await prepareDataset({ source: dir, token: "char", foldAccents: false, validFraction: 0.1, testFraction: 0.1, seed: 0, dedupe: true });
 * deepStrictEqual(splitNotes(set), [
 *   "notice: dropped 1 repeated (text, label) example of 6; 1 text carries more than one label (all its copies are in one part of the split)",
 *   'warning: label "b" has 2 examples, too few for the split: none in test (at least 3 needed)',
 * ]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function splitNotes(set: Dataset): string[] {
  const notes: string[] = [];
  const { record, data } = set;
  if (record.dropped !== undefined) {
    const dropped = record.dropped.length;
    const multi = record.multiLabelTexts ?? 0;
    notes.push(
      `notice: dropped ${dropped} repeated (text, label) example${dropped === 1 ? "" : "s"} of ` +
        `${data.examples.length}; ${multi} text${multi === 1 ? " carries" : "s carry"} more ` +
        "than one label (all its copies are in one part of the split)",
    );
  }
  record.counts.forEach(([train, valid, test], label) => {
    const missing = [
      record.validFraction > 0 && valid === 0 ? "none in valid" : "",
      record.testFraction > 0 && test === 0 ? "none in test" : "",
    ].filter(Boolean);
    if (missing.length === 0) return;
    const n = train + valid + test;
    notes.push(
      `warning: label "${data.labels[label]}" has ${n} example${n === 1 ? "" : "s"}, too few for ` +
        `the split: ${missing.join(", ")} (at least 3 needed)`,
    );
  });
  return notes;
}
