/**
 * The cell registry: every built-in kind's {@linkcode CellDefinition}, one
 * line each. Layers, kernels, checkpoints and the scripts' `--cell` choices
 * read the kinds from here, so a new kind is its cell file plus a line below.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import type { CellDefinition, CellSpec, Nonlinearity } from "./definition.ts";
import { rnnDefinition } from "./rnn.ts";
import { gruDefinition } from "./gru.ts";
import { lstmDefinition } from "./lstm.ts";
import { lnlstmDefinition } from "./lnlstm.ts";

/**
 * The built-in cell kinds by name.
 *
 * @example Look a kind up
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(CELLS.gru.gates, ["z", "r", "h"]);
 * ```
 */
export const CELLS = {
  rnn: rnnDefinition,
  gru: gruDefinition,
  lstm: lstmDefinition,
  lnlstm: lnlstmDefinition,
} as const satisfies Record<string, CellDefinition>;

/** The built-in cell kinds. */
export type CellKind = keyof typeof CELLS;

/**
 * The built-in cell kinds, for validation and help text.
 *
 * @example For a --cell flag
 * ```ts
 * import { ok } from "node:assert";
 * ok(CELL_KINDS.includes("lnlstm"));
 * ```
 */
export const CELL_KINDS: readonly CellKind[] = Object.keys(CELLS) as CellKind[];

/**
 * Number of gate blocks G per built-in kind in the fused storage.
 *
 * @example Four blocks for an lstm
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(GATE_COUNT.lstm, 4);
 * ```
 */
export const GATE_COUNT: Readonly<Record<string, number>> = Object.fromEntries(
  CELL_KINDS.map((kind) => [kind, CELLS[kind].gates.length]),
);

/**
 * The gate blocks of each built-in kind, in fused storage order.
 *
 * @example The lstm's order
 * ```ts
 * import { deepStrictEqual } from "node:assert";
 * deepStrictEqual(GATE_BLOCKS.lstm, ["i", "f", "o", "c"]);
 * ```
 */
export const GATE_BLOCKS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  CELL_KINDS.map((kind) => [kind, CELLS[kind].gates]),
);

/**
 * The definition of a spec's kind: its own `definition`, else the registry's.
 *
 * @param spec a spec, or just a kind's name.
 * @throws {UsageError} for a kind the registry does not have.
 *
 * @example The lstm's four gates
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(cellDefinition("lstm").gates.length, 4);
 * ```
 */
export function cellDefinition(spec: CellSpec | string): CellDefinition {
  if (typeof spec !== "string" && spec.definition !== undefined) return spec.definition;
  const kind = typeof spec === "string" ? spec : spec.kind;
  if (!Object.hasOwn(CELLS, kind)) {
    throw new UsageError(
      `Cannot build a cell of kind "${kind}": expected one of ${CELL_KINDS.join(", ")}`,
    );
  }
  return CELLS[kind as CellKind];
}

/**
 * Whether a kind's state has a memory cell `c` (lstm, lnlstm).
 *
 * @example Which kinds carry c
 * ```ts
 * import { ok } from "node:assert";
 * ok(hasCellState("lstm") && !hasCellState("gru"));
 * ```
 */
export function hasCellState(spec: CellSpec | string): boolean {
  return cellDefinition(spec).state.includes("c");
}

/** The variant options of a cell, as `recurrent()`, configs and flags give them. */
export interface CellOptions {
  /** rnn only. */
  nonlinearity?: Nonlinearity;
  /** gru only. */
  resetAfter?: boolean;
  /** Kinds with a forget gate `f` only. */
  forgetBias?: number;
}

/** The registry's kinds that take a flag, for messages: "rnn", "lstm, lnlstm". */
function kindsWith(has: (def: CellDefinition) => boolean): string {
  return CELL_KINDS.filter((kind) => has(CELLS[kind])).join(", ") || "no built-in";
}

/**
 * The flag rules: throws unless every option given suits the kind
 * (`nonlinearity` for rnn, `resetAfter` for gru, `forgetBias` for kinds with
 * a forget gate). Scripts and model configs call this one function.
 *
 * @param spec a spec or a kind's name.
 * @param options the options given; undefined means not given.
 * @param action the start of the message.
 * @throws {UsageError} for an unknown kind or an option the kind does not take.
 *
 * @example A flag on the wrong kind
 * ```ts
 * import { throws } from "node:assert";
 * checkCellOptions("rnn", { nonlinearity: "relu" });
 * throws(() => checkCellOptions("gru", { nonlinearity: "relu" }), /nonlinearity "relu" is for rnn cells, not gru/);
 * ```
 */
export function checkCellOptions(
  spec: CellSpec | string,
  options: CellOptions,
  action = `Cannot build a cell of kind "${typeof spec === "string" ? spec : spec.kind}"`,
): void {
  const def = cellDefinition(spec);
  const not = `, not ${def.kind}`;
  if (options.nonlinearity !== undefined) {
    if (!def.flags?.nonlinearity) {
      throw new UsageError(
        `${action}: nonlinearity "${options.nonlinearity}" is for ${
          kindsWith((d) => !!d.flags?.nonlinearity)
        } cells${not}`,
      );
    }
    if (options.nonlinearity !== "tanh" && options.nonlinearity !== "relu") {
      throw new UsageError(
        `${action}: nonlinearity is "${options.nonlinearity}", expected tanh or relu`,
      );
    }
  }
  if (options.resetAfter !== undefined && !def.flags?.resetAfter) {
    throw new UsageError(
      `${action}: resetAfter is for ${kindsWith((d) => !!d.flags?.resetAfter)} cells${not}`,
    );
  }
  if (options.forgetBias !== undefined && !def.gates.includes("f")) {
    throw new UsageError(
      `${action}: forgetBias is for ${kindsWith((d) => d.gates.includes("f"))} cells${not}`,
    );
  }
}
