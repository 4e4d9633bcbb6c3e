/**
 * Labelled text for sequence classification (N vs 1) and conditioned
 * generation (1 vs N): loading, tokens, a vocabulary with `<pad>`, strict
 * encoding, a stratified seeded split and length-bucketed minibatches.
 *
 * Two layouts are read:
 * - a folder of `<label>.txt` files, one example per line (the names data:
 *   `data/names/Russian.txt`, ...); the label is the file name;
 * - one file of `label<TAB>text` lines.
 *
 * Blank lines are skipped and each line is trimmed; labels are sorted, so a
 * label's id does not depend on the order the folder lists its files in.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { readUtf8File } from "../corpus/utf8.ts";
import { Vocab } from "../corpus/vocab.ts";
import type { TokenKind } from "../corpus/tokenize.ts";
export { bucketBatches, labelledBatch, stratifiedSplit } from "./_labelled_split.ts";
export type {
  BucketOptions,
  LabelledBatch,
  SplitOptions,
  SplitRecord,
  StratifiedSplit,
} from "./_labelled_split.ts";

/** The padding token, id 1 in every labelled vocabulary (`<unk>` is 0). */
export const PAD = "<pad>";
/** The start-of-sequence token a generator reads first, id 2. */
export const BOS = "<bos>";
/** The end-of-sequence token a generator learns to emit, id 3. */
export const EOS = "<eos>";
/** The reserved tokens of a labelled vocabulary, in id order after `<unk>`. */
export const LABELLED_RESERVED: readonly string[] = [PAD, BOS, EOS];

/** One example: its text and its label's id (an index into {@linkcode LabelledData.labels}). */
export interface LabelledExample {
  /** The example's text. */
  text: string;
  /** Index of its label in the label list. */
  label: number;
}

/** What {@linkcode loadLabelled} returns. */
export interface LabelledData {
  /** The path read. */
  source: string;
  /** `folder` of `<label>.txt` files or a `tsv` file of `label<TAB>text` lines. */
  layout: "folder" | "tsv";
  /** The label names, sorted; a label's id is its index. */
  labels: string[];
  /** Every example, in file order (labels in sorted order for a folder). */
  examples: LabelledExample[];
}

/**
 * Reads labelled examples from a folder of `<label>.txt` files or a
 * `label<TAB>text` file.
 *
 * @param path the folder or file.
 * @returns the labels (sorted) and the examples.
 * @throws {UsageError} for a missing path, a folder without `.txt` files, a
 *   label file with no lines, a tsv line without a tab, or fewer than 2 labels.
 *
 * @example A folder of two labels
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/b.txt`, "xyz\n\nxy\n");
 * await Deno.writeTextFile(`${dir}/a.txt`, "ab\n");
 * const data = await loadLabelled(dir);
 * deepStrictEqual(data.labels, ["a", "b"]);
 * deepStrictEqual(data.examples, [{ text: "ab", label: 0 }, { text: "xyz", label: 1 }, { text: "xy", label: 1 }]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadLabelled(path: string): Promise<LabelledData> {
  const action = `Cannot read labelled data "${path}"`;
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`${action}: no such file or folder`);
    }
    throw error;
  }
  const data = stat.isDirectory ? await readFolder(path, action) : await readTsv(path, action);
  if (data.labels.length < 2) {
    throw new UsageError(
      `${action}: it has ${data.labels.length} label${
        data.labels.length === 1 ? ` ("${data.labels[0]}")` : "s"
      }, expected at least 2`,
    );
  }
  return data;
}

/** The non-blank lines of a text, trimmed. */
function lines(text: string): string[] {
  return text.split(/\r\n|\r|\n/).map((line) => line.trim()).filter((line) => line !== "");
}

async function readFolder(path: string, action: string): Promise<LabelledData> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(path)) {
    if (entry.isFile && entry.name.endsWith(".txt")) files.push(entry.name);
  }
  if (files.length === 0) {
    throw new UsageError(
      `${action}: the folder has no .txt files, expected one <label>.txt per label`,
    );
  }
  files.sort();
  const labels = files.map((name) => name.slice(0, -".txt".length));
  const examples: LabelledExample[] = [];
  for (let label = 0; label < files.length; label++) {
    const texts = lines(await readUtf8File(`${path}/${files[label]}`));
    if (texts.length === 0) {
      throw new UsageError(
        `${action}: label file "${files[label]}" has no lines, expected one example per line`,
      );
    }
    for (const text of texts) examples.push({ text, label });
  }
  return { source: path, layout: "folder", labels, examples };
}

async function readTsv(path: string, action: string): Promise<LabelledData> {
  const rows: [string, string][] = [];
  const all = (await readUtf8File(path)).split(/\r\n|\r|\n/);
  for (let i = 0; i < all.length; i++) {
    if (all[i].trim() === "") continue;
    const tab = all[i].indexOf("\t");
    const label = all[i].slice(0, tab).trim();
    const text = all[i].slice(tab + 1).trim();
    if (tab < 0 || label === "" || text === "") {
      throw new UsageError(
        `${action}: line ${i + 1} is ${
          JSON.stringify(all[i].slice(0, 40))
        }, expected label<TAB>text`,
      );
    }
    rows.push([label, text]);
  }
  if (rows.length === 0) {
    throw new UsageError(`${action}: the file has no lines, expected label<TAB>text lines`);
  }
  const labels = [...new Set(rows.map(([label]) => label))].sort();
  const ids = new Map(labels.map((label, id) => [label, id]));
  const examples = rows.map(([label, text]) => ({ text, label: ids.get(label)! }));
  return { source: path, layout: "tsv", labels, examples };
}

/** How an example's text becomes tokens. */
export interface LabelledTokenOptions {
  /** `char` (code points; names) or `word` (runs between whitespace; text). @default "char" */
  token?: TokenKind;
  /** Fold accents: NFD, then drop the combining marks (`é` -> `e`, `Ł` stays). @default false */
  foldAccents?: boolean;
}

/**
 * Removes accents: Unicode NFD, then every combining mark (`\p{M}`) dropped.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(foldAccents("Dvořák Žižek Nuñez"), "Dvorak Zizek Nunez");
 * ```
 */
export function foldAccents(text: string): string {
  return text.normalize("NFD").replace(/\p{M}/gu, "");
}

/**
 * The tokens of one example's text, trimmed: NFC (or folded) code points for
 * `char`, whitespace-separated runs for `word`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(labelledTokens("Éa", { foldAccents: true }), ["E", "a"]);
 * deepStrictEqual(labelledTokens(" a  bc ", { token: "word" }), ["a", "bc"]);
 * ```
 */
export function labelledTokens(text: string, options: LabelledTokenOptions = {}): string[] {
  const trimmed = text.trim();
  const clean = options.foldAccents ? foldAccents(trimmed) : trimmed.normalize("NFC");
  if ((options.token ?? "char") === "char") return Array.from(clean);
  return clean.split(/\s+/u).filter((word) => word !== "");
}

/**
 * A vocabulary over the tokens of some examples: `<unk>` 0, `<pad>` 1,
 * `<bos>` 2, `<eos>` 3, then the tokens by frequency.
 *
 * @param texts the texts to count (the training split, so that held-out
 *   examples meet the vocabulary as new text would).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * const vocab = labelledVocab(["abb", "b"]);
 * deepStrictEqual(vocab.tokens, ["<unk>", "<pad>", "<bos>", "<eos>", "b", "a"]);
 * ```
 */
export function labelledVocab(
  texts: Iterable<string>,
  options: LabelledTokenOptions = {},
): Vocab {
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const t of labelledTokens(text, options)) counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  return Vocab.fromCounts(counts, {
    token: options.token ?? "char",
    normalize: "raw",
    reserved: LABELLED_RESERVED,
  });
}

/** Options of {@linkcode encodeLabelled}. */
export interface EncodeLabelledOptions extends LabelledTokenOptions {
  /** Throw for a token outside the vocabulary instead of mapping it to `<unk>`. @default false */
  strict?: boolean;
  /** What is being done, for the error message. @default "encode" */
  action?: string;
}

/**
 * Token ids of one text (at least one token).
 *
 * @throws {UsageError} for a text with no tokens, and, when `strict`, for
 *   tokens outside the vocabulary, all of them named.
 *
 * @example
 * ```ts
 * import { deepStrictEqual, throws } from "node:assert";
 * const vocab = labelledVocab(["ab"]);
 * deepStrictEqual([...encodeLabelled(vocab, "bac")], [5, 4, 0]);
 * throws(() => encodeLabelled(vocab, "bac", { strict: true }), /"c"/);
 * ```
 */
export function encodeLabelled(
  vocab: Vocab,
  text: string,
  options: EncodeLabelledOptions = {},
): Int32Array {
  const tokens = labelledTokens(text, { token: vocab.token, foldAccents: options.foldAccents });
  const action = options.action ?? "encode";
  if (tokens.length === 0) {
    throw new UsageError(`Cannot ${action} ${JSON.stringify(text)}: it has no tokens`);
  }
  if (options.strict) {
    const unknown = [...new Set(tokens.filter((t) => !vocab.has(t) || vocab.idOf(t) < 4))];
    if (unknown.length > 0) {
      const list = unknown.map((t) => JSON.stringify(t)).join(", ");
      throw new UsageError(
        `Cannot ${action} ${JSON.stringify(text)}: ${list} ${
          unknown.length === 1 ? "is" : "are"
        } outside the vocabulary, expected ${vocab.token === "char" ? "characters" : "words"}` +
          ` seen in training${
            !options.foldAccents && unknown.some((t) => foldAccents(t) !== t)
              ? " (folding accents would map them to plain letters)"
              : ""
          }`,
      );
    }
  }
  return vocab.encode(tokens);
}
