/**
 * Sequences given as rows of a table (`{ table, ids }`, the embedding folded
 * into the first layer's input projection) against the same sequences given
 * as inputs `[table; 0][ids]`: outputs, final states and the gradients of the
 * table and every weight, for every cell variant, with and without lengths,
 * one layer and stacked bidirectional, on cpu and wasm (the fused rows mode)
 * and webgpu (rows become inputs first). The id V reads zeros.
 */
import { NATIVE } from "../_native.ts";
import { throws } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { fusedSequence, type SequenceRows } from "../../lib/kernels/fused_sequence.ts";
import { embeddingLookup } from "../../lib/layers/embedding.ts";
import { GATE_COUNT } from "../../lib/cells/types.ts";
import { assertClose, onBackend, VARIANTS } from "../kernels/_helpers.ts";
import { CASES, CONFIGS, D, H, stackOf } from "./_lengths.ts";

const V = 6;

/** Seeded ids `[T, B]` in `[0, V]` (V: the zero row), as float32 (the rows contract). */
function idsFor(T: number, B: number, seed: number): number[] {
  return Array.from({ length: T * B }, (_, i) => (i * 5 + seed * 3 + (i >> 2)) % (V + 1));
}

/** `[table; 0][ids]` `[T, B, D]`, differentiable in the table. */
function asInputs(table: tf.Tensor, ids: number[], T: number, B: number): tf.Tensor3D {
  const withZeros = tf.concat([table, tf.zeros([1, D])], 0) as tf.Variable<tf.Rank.R2>;
  return tf.reshape(embeddingLookup(withZeros, tf.tensor1d(ids, "int32")), [
    T,
    B,
    D,
  ]) as tf.Tensor3D;
}

/** A fixed, step- and unit-dependent weighting of outputs and final states (a loss that sees everything). */
function lossOf(outputs: tf.Tensor, finals: tf.Tensor[]): tf.Scalar {
  const w = tf.sin(tf.range(0, outputs.size).reshape(outputs.shape));
  // Added one by one: tfjs-webgpu's addN of nine scalars comes out 0 on llvmpipe.
  return finals.reduce(
    (sum, f) => tf.add(sum, tf.sum(tf.mul(f, f))),
    tf.sum(tf.mul(outputs, w)),
  ) as tf.Scalar;
}

for (const backend of ["cpu", ...NATIVE, "wasm"]) {
  Deno.test(`fusedSequence() with rows equals it with the inputs, every variant, on ${backend}`, async () => {
    await onBackend(backend, async () => {
      for (const variant of VARIANTS) {
        const [T, B] = [4, 3];
        const spec = { ...variant.spec, inputSize: D, hiddenSize: H };
        const G = GATE_COUNT[spec.kind];
        const vars = [
          tf.randomNormal([V, D], 0, 1, "float32", 1),
          tf.randomNormal([D, G * H], 0, 0.5, "float32", 2),
          tf.randomNormal([H, G * H], 0, 0.5, "float32", 3),
          tf.randomNormal([G * H], 0, 0.5, "float32", 4),
          tf.randomNormal([B, H], 0, 0.5, "float32", 5),
        ];
        const bhh = spec.kind === "gru" && spec.resetAfter ? tf.randomNormal([H]) : undefined;
        const ids = idsFor(T, B, 1);
        const run =
          (rows: boolean) =>
          (table: tf.Tensor, Wx: tf.Tensor, Wh: tf.Tensor, b: tf.Tensor, h: tf.Tensor) => {
            const weights = { Wx, Wh, b, ...(bhh ? { bhh } : {}) } as Parameters<
              typeof fusedSequence
            >[1];
            const xs: tf.Tensor3D | SequenceRows = rows
              ? { table: table as tf.Tensor2D, ids: tf.tensor2d(ids, [T, B]) }
              : asInputs(table, ids, T, B);
            const r = fusedSequence(spec, weights, xs, { h: h as tf.Tensor2D });
            return lossOf(r.outputs, r.state.c ? [r.state.h, r.state.c] : [r.state.h]);
          };
        await assertClose(
          run(true)(...vars as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]),
          run(false)(...vars as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]),
          1e-6,
          `${variant.name} loss`,
        );
        const got = tf.grads(run(true))(vars), want = tf.grads(run(false))(vars);
        for (const [i, name] of ["table", "Wx", "Wh", "b", "h0"].entries()) {
          await assertClose(got[i], want[i], 1e-5, `${variant.name} d${name}`);
        }
      }
    });
  });
}

for (const backend of ["cpu", "wasm", "webgpu"]) {
  Deno.test(`recurrent().forward() with rows equals it with the inputs: lengths, stacks, on ${backend}`, async () => {
    await onBackend(backend, async () => {
      for (const variant of VARIANTS.filter((v) => backend !== "webgpu" || v.spec.kind !== "rnn")) {
        for (const config of CONFIGS) {
          for (const { T, lengths } of [...CASES, { T: 4, lengths: undefined }]) {
            const B = lengths?.length ?? 2;
            const stack = stackOf(variant, config, 7);
            const table = tf.variable(tf.randomNormal([V, D], 0, 1, "float32", 8)) as tf.Variable<
              tf.Rank.R2
            >;
            const ids = idsFor(T, B, 2);
            const label = `${variant.name} ${JSON.stringify(config)} lengths ${lengths}`;
            const lossWith = (rows: boolean) => () => {
              const xs = rows
                ? { table, ids: tf.tensor2d(ids, [T, B]) }
                : asInputs(table, ids, T, B);
              const { outputs, state } = stack.forward(xs, { lengths });
              return lossOf(outputs, state.flatMap((s) => s.c ? [s.h, s.c] : [s.h]));
            };
            const vars = [table, ...stack.trainableVariables];
            const got = tf.variableGrads(lossWith(true), vars);
            const want = tf.variableGrads(lossWith(false), vars);
            await assertClose(got.value, want.value, 1e-6, `${label} loss`);
            for (const v of vars) {
              await assertClose(got.grads[v.name], want.grads[v.name], 1e-5, `${label} d${v.name}`);
            }
            tf.dispose([
              got.value,
              want.value,
              ...Object.values(got.grads),
              ...Object.values(want.grads),
            ]);
            stack.dispose();
            table.dispose();
          }
        }
      }
    });
  });
}

Deno.test("rows are refused with one line: a table of the wrong width, int ids", () => {
  const stack = recurrentOf();
  throws(
    () =>
      stack.forward({
        table: tf.zeros([V, D + 1]) as tf.Tensor2D,
        ids: tf.zeros([2, 1]) as tf.Tensor2D,
      }),
    /rows \(ids \[T, B\] of a table \[V, D\]\) have shape \[2, 1, 4\], expected \[T, B, 3\]/,
  );
  throws(
    () =>
      stack.forward({
        table: tf.zeros([V, D]) as tf.Tensor2D,
        ids: tf.zeros([2, 1], "int32") as tf.Tensor2D,
      }),
    /ids are int32 \[2, 1\], expected float32 \[T, B\]/,
  );
  stack.dispose();
});

function recurrentOf() {
  return stackOf(VARIANTS[2], CONFIGS[0], 1);
}
