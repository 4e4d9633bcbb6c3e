/**
 * The configuration of an encoder-decoder: everything that fixes its shapes,
 * saved with every checkpoint.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { CELL_KINDS, type CellKind } from "../cells/types.ts";
import { checkChoice, checkRate, checkSizes } from "../training/config_checks.ts";

/** How the decoder reads the encoder: d2l's fixed context, or attention over its outputs. */
export type AttentionKind = "none" | "additive" | "dot";

/** The attention kinds, for validation and help text. */
export const ATTENTION_KINDS: readonly AttentionKind[] = ["none", "additive", "dot"];

/** Everything needed to build an encoder-decoder again (plain JSON). */
export interface Seq2SeqConfig {
  /** Always "seq2seq" (the checkpoint's model kind). */
  kind: "seq2seq";
  /** Source vocabulary size. */
  sourceVocabSize: number;
  /** Target vocabulary size. */
  targetVocabSize: number;
  /** The recurrent cell of encoder and decoder. @default "gru" */
  cell: CellKind;
  /** Embedding width of both sides. @default 256 */
  embeddingSize: number;
  /** Hidden units per encoder layer and direction. @default 256 */
  hiddenSize: number;
  /** Stacked layers of encoder and decoder. @default 2 */
  layers: number;
  /** Dropout between recurrent layers while training. @default 0.2 */
  dropout: number;
  /** A bidirectional encoder (the decoder is then `2 * hiddenSize` wide). @default false */
  bidirectional: boolean;
  /** `none` (d2l §10.7), `additive` (Bahdanau, d2l §11.4) or `dot` (scaled dot product). @default "none" */
  attention: AttentionKind;
  /** gru only: reset gate after the recurrent matmul. @default false */
  resetAfter: boolean;
  /** Seed of the initial weights. @default 0 */
  seed: number;
}

/** The defaults of {@linkcode seq2seqConfig}: d2l's configuration. */
export const SEQ2SEQ_DEFAULTS: Omit<Seq2SeqConfig, "kind" | "sourceVocabSize" | "targetVocabSize"> =
  {
    cell: "gru",
    embeddingSize: 256,
    hiddenSize: 256,
    layers: 2,
    dropout: 0.2,
    bidirectional: false,
    attention: "none",
    resetAfter: false,
    seed: 0,
  };

/**
 * Checks a partial configuration and fills in the defaults.
 *
 * @throws {UsageError} naming the field, its value and what is expected.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const config = seq2seqConfig({ sourceVocabSize: 10, targetVocabSize: 12, attention: "additive" });
 * strictEqual(config.hiddenSize, 256);
 * ```
 */
export function seq2seqConfig(
  partial:
    & Pick<Seq2SeqConfig, "sourceVocabSize" | "targetVocabSize">
    & Partial<Omit<Seq2SeqConfig, "kind">>,
): Seq2SeqConfig {
  const config: Seq2SeqConfig = { ...SEQ2SEQ_DEFAULTS, ...partial, kind: "seq2seq" };
  const action = "Cannot build an encoder-decoder";
  const sizes = ["sourceVocabSize", "targetVocabSize", "embeddingSize", "hiddenSize", "layers"];
  checkSizes(action, config, sizes as (keyof Seq2SeqConfig)[]);
  checkChoice(action, "cell", config.cell, CELL_KINDS);
  checkChoice(action, "attention", config.attention, ATTENTION_KINDS);
  checkRate(action, "dropout", config.dropout);
  if (config.dropout > 0 && config.layers < 2) {
    throw new UsageError(
      `${action}: dropout ${config.dropout} acts between layers, expected layers >= 2`,
    );
  }
  return config;
}
