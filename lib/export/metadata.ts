/**
 * What an exported model carries besides its weights, so a user can
 * tokenize and decode without our code: ONNX `metadata_props` and the
 * safetensors `__metadata__` hold the same string record.
 *
 * | key | value |
 * |---|---|
 * | `kind` | `lm`, `classifier`, `generator` or `seq2seq` |
 * | `vocab` | JSON array of tokens, index = id (`source_vocab`, `target_vocab` for seq2seq) |
 * | `labels` | JSON array of label names, index = output column (classifier; generator: conditions) |
 * | `padding_id` | the id written past each sequence's end (JSON number or null) |
 * | `special_ids` | JSON `{ "unk": 0, "pad": 1, "bos": 2, "eos": 3 }`, the reserved tokens present |
 * | `tokenizer` | JSON `{ token, normalization, steps }`: how text becomes tokens, step by step |
 * | `config` | JSON of the model's config (sizes, cell, variant flags) |
 *
 * @module
 */
import { Vocab } from "../corpus/vocab.ts";
import type { JsonValue } from "../training/checkpoint.ts";

/** The tokenizer of one model kind, described for a reader in another language. */
export interface TokenizerInfo {
  /** `char` (each code point is a token) or `word`. */
  token: "char" | "word";
  /** A short name of the normalisation. */
  normalization: string;
  /** What to do to a text, in order, to get its tokens; unknown tokens are id 0 (`<unk>`). */
  steps: string[];
}

const LABELLED_STEPS = (fold: boolean, token: string) => [
  "strip whitespace at both ends",
  fold ? "Unicode NFD, then drop every combining mark (general category M)" : "Unicode NFC",
  token === "char" ? "each code point is a token" : "split on runs of whitespace",
];

/**
 * The tokenizer of a checkpoint's kind from its saved run config.
 *
 * @example A classifier's tokenizer
 * ```ts
 * import { strictEqual } from "node:assert";
 * const info = tokenizerInfo("classifier", { data: { token: "char", foldAccents: true } });
 * strictEqual(info.normalization, "trim+fold_accents");
 * ```
 */
export function tokenizerInfo(kind: string, runConfig: JsonValue): TokenizerInfo {
  const config = runConfig as Record<string, Record<string, unknown>>;
  if (kind === "classifier" || kind === "generator") {
    const fold = config.data.foldAccents === true;
    const token = config.data.token as "char" | "word";
    return {
      token,
      normalization: fold ? "trim+fold_accents" : "trim+nfc",
      steps: LABELLED_STEPS(fold, token),
    };
  }
  if (kind === "seq2seq") {
    const token = config.data.token as "char" | "word";
    const d2l = config.data.normalize === "d2l";
    return {
      token,
      normalization: String(config.data.normalize),
      steps: [
        ...(d2l
          ? [
            "replace U+202F and U+00A0 with a space, then lower-case",
            "insert a space before each of , . ! ? that does not follow a space",
          ]
          : []),
        token === "char"
          ? "each code point is a token"
          : "split on single spaces, dropping empty tokens",
        "source: append <eos>; decoding starts from <bos> and stops at <eos>",
      ],
    };
  }
  const token = config.corpus.token as "char" | "word";
  const d2l = config.corpus.normalize === "d2l";
  return {
    token,
    normalization: String(config.corpus.normalize),
    steps: d2l
      ? [
        "cut the text into lines; in each line every run of characters other than [A-Za-z] " +
        "becomes one space, then strip and lower-case the line",
        token === "char"
          ? "char tokens: the lines' characters, lines concatenated with nothing between"
          : "word tokens: each line split on spaces",
      ]
      : [token === "char" ? "each code point is a token" : "split on runs of whitespace"],
  };
}

/** The reserved ids a vocabulary has, by short name. */
function specialIds(vocab: Vocab): Record<string, number> {
  const ids: Record<string, number> = { unk: 0 };
  for (const [name, token] of [["pad", "<pad>"], ["bos", "<bos>"], ["eos", "<eos>"]]) {
    if (vocab.has(token)) ids[name] = vocab.idOf(token);
  }
  return ids;
}

/** What a checkpoint holds, as {@linkcode exportMetadata} reads it. */
export interface ExportSource {
  /** The model kind written into the metadata. */
  kind: string;
  /** The saved run config (`model`, and `data` or `corpus`). */
  config: JsonValue;
  /** The saved vocabulary record (`{ source, target }` for seq2seq). */
  vocab: JsonValue;
}

/**
 * The metadata record of an exported model.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { Vocab } from "../corpus/vocab.ts";
 * const vocab = Vocab.build(["a", "b"], { reserved: ["<pad>"] });
 * const meta = exportMetadata({
 *   kind: "lm",
 *   config: { model: { cell: "gru" }, corpus: { token: "char", normalize: "raw" } },
 *   vocab: vocab.toJSON() as never,
 * });
 * strictEqual(JSON.parse(meta.vocab)[0], "<unk>");
 * strictEqual(meta.padding_id, "1");
 * ```
 */
export function exportMetadata(source: ExportSource): Record<string, string> {
  const { kind } = source;
  const config = source.config as Record<string, Record<string, unknown>>;
  const meta: Record<string, string> = { kind };
  let pad: number | null;
  if (kind === "seq2seq") {
    const { source: s, target: t } = source.vocab as { source: JsonValue; target: JsonValue };
    const sv = Vocab.fromJSON(s), tv = Vocab.fromJSON(t);
    meta.source_vocab = JSON.stringify(sv.tokens);
    meta.target_vocab = JSON.stringify(tv.tokens);
    meta.special_ids = JSON.stringify(specialIds(tv));
    pad = tv.has("<pad>") ? tv.idOf("<pad>") : null;
  } else {
    const vocab = Vocab.fromJSON(source.vocab);
    meta.vocab = JSON.stringify(vocab.tokens);
    meta.special_ids = JSON.stringify(specialIds(vocab));
    pad = typeof config.model.padId === "number"
      ? config.model.padId
      : vocab.has("<pad>")
      ? vocab.idOf("<pad>")
      : null;
  }
  if (config.data && Array.isArray(config.data.labels)) {
    meta.labels = JSON.stringify(config.data.labels);
  }
  meta.padding_id = JSON.stringify(pad);
  meta.tokenizer = JSON.stringify(tokenizerInfo(kind, source.config));
  meta.config = JSON.stringify(config.model);
  return meta;
}
