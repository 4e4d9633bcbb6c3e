/**
 * The cell registry: kinds, gate counts and flag rules come from the
 * definitions, unknown kinds and misplaced flags are usage errors, and a
 * user's own definition goes through the same checks.
 */
import { deepStrictEqual, ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import {
  CELL_KINDS,
  cellDefinition,
  CELLS,
  checkCellOptions,
  GATE_BLOCKS,
  GATE_COUNT,
  hasCellState,
} from "../../lib/cells/registry.ts";
import type { CellDefinition } from "../../lib/cells/definition.ts";
import { checkSpec, fusedKeys, weightNames, zeroState } from "../../lib/cells/spec.ts";
import { initialWeights } from "../../lib/cells/init.ts";
import { makeCell } from "../../lib/layers/cell.ts";
import { rejectsWith } from "./_helpers.ts";

Deno.test("the registry lists every kind, with gate counts and blocks from its definition", () => {
  deepStrictEqual(CELL_KINDS, ["rnn", "gru", "lstm", "lnlstm"]);
  deepStrictEqual(GATE_COUNT, { rnn: 1, gru: 3, lstm: 4, lnlstm: 4 });
  deepStrictEqual(GATE_BLOCKS.gru, ["z", "r", "h"]);
  for (const kind of CELL_KINDS) deepStrictEqual(CELLS[kind].kind, kind);
  ok(
    hasCellState("lstm") && hasCellState("lnlstm") && !hasCellState("rnn") && !hasCellState("gru"),
  );
});

Deno.test("cellDefinition() names the kinds there are for an unknown one", () => {
  rejectsWith(() => cellDefinition("transformer"), '"transformer"', "rnn, gru, lstm, lnlstm");
});

Deno.test("checkCellOptions() allows each flag on its kinds only, naming both", () => {
  checkCellOptions("rnn", { nonlinearity: "relu" });
  checkCellOptions("gru", { resetAfter: true });
  checkCellOptions("lnlstm", { forgetBias: 1 });
  rejectsWith(() => checkCellOptions("gru", { nonlinearity: "relu" }), '"relu"', "rnn", "not gru");
  rejectsWith(() => checkCellOptions("lstm", { resetAfter: false }), "resetAfter", "not lstm");
  rejectsWith(() => checkCellOptions("rnn", { forgetBias: 1 }), "lstm, lnlstm", "not rnn");
  rejectsWith(
    () => checkCellOptions("rnn", { nonlinearity: "gelu" as never }),
    '"gelu"',
    "tanh or relu",
  );
});

Deno.test("checkSpec() fills in the kind's own flags and keeps no other", () => {
  deepStrictEqual(checkSpec({ kind: "rnn", inputSize: 2, hiddenSize: 3 }).nonlinearity, "tanh");
  deepStrictEqual(checkSpec({ kind: "gru", inputSize: 2, hiddenSize: 3 }).resetAfter, false);
  const lstm = checkSpec({ kind: "lstm", inputSize: 2, hiddenSize: 3 });
  ok(!("nonlinearity" in lstm) && !("resetAfter" in lstm));
  rejectsWith(() => checkSpec({ kind: "lstm", inputSize: 0, hiddenSize: 3 }), "inputSize is 0");
});

Deno.test("extra parameters come from the definition: names, keys and initial values", async () => {
  const gru = { kind: "gru", inputSize: 2, hiddenSize: 3, resetAfter: true };
  deepStrictEqual(fusedKeys(gru), ["Wx", "Wh", "b", "bhh"]);
  deepStrictEqual(weightNames(gru).slice(-1), ["b_hh"]);
  const ln = { kind: "lnlstm", inputSize: 2, hiddenSize: 3 };
  deepStrictEqual(fusedKeys(ln), ["Wx", "Wh", "b", "gx", "betax", "gh", "betah", "gc", "betac"]);
  const w = initialWeights(ln, { forgetBias: 1, seed: 1 });
  deepStrictEqual(Array.from(await w.gx!.data()), Array(12).fill(1));
  deepStrictEqual(Array.from(await w.betac!.data()), [0, 0, 0]);
  deepStrictEqual(Array.from((await w.b.data()).slice(3, 6)), [1, 1, 1]); // b_f
  tf.dispose(Object.values(w).filter((t) => t !== undefined));
});

Deno.test("a user's own definition builds a cell object, checked like a built-in kind", async () => {
  const doubling: CellDefinition = {
    kind: "doubling",
    gates: ["h"],
    state: ["h", "c"],
    step: (_spec, w, xw, state) => ({
      h: tf.add(xw, tf.matMul(state.h, w.Wh)) as tf.Tensor2D,
      c: tf.mul(state.c!, 2) as tf.Tensor2D,
    }),
  };
  const spec = { kind: "doubling", inputSize: 2, hiddenSize: 2, definition: doubling };
  rejectsWith(() => checkSpec({ ...spec, resetAfter: true }), "resetAfter", "not doubling");
  const cell = makeCell(spec, { seed: 2 });
  const state = zeroState(spec, 1);
  ok(state.c !== undefined, "its state has c, as its definition says");
  const c = tf.ones([1, 2]) as tf.Tensor2D;
  const next = cell.step(tf.ones([1, 2]) as tf.Tensor2D, { h: state.h, c });
  deepStrictEqual(Array.from(await next.c!.data()), [2, 2]);
  rejectsWith(
    () => cell.step(tf.ones([1, 2]) as tf.Tensor2D, { h: state.h }),
    "state.c is missing",
  );
  deepStrictEqual(Object.keys(cell.getWeights()), ["W_xh", "W_hh", "b_h"]);
  cell.dispose();
});
