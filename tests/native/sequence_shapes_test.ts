/**
 * The native sequence kernels on shapes that take each of their code paths:
 * whole 8-row blocks and a block of fewer rows (B = 11), whole panels of units
 * and a last panel of fewer (H = 44: the LSTM's forward handles 8 units a
 * panel, its backward 32, and its gradient row 16 at a time with a scalar
 * tail), against plain tf ops on cpu differentiated by tfjs autograd; given
 * as xs and as rows of a table (ids past the table included). The small
 * shapes of tests/kernels/ fit in one block and one panel.
 */
import { tf } from "../../lib/tf.ts";
import { fusedSequence, type SequenceRows } from "../../lib/kernels/fused_sequence.ts";
import { Rng } from "../../lib/rng.ts";
import { plainSequence } from "../kernels/_plain.ts";
import {
  assertClose,
  type CaseData,
  caseTensors,
  lossOf,
  makeCase,
  onBackend,
  unpack,
  VARIANTS,
} from "../kernels/_helpers.ts";
import { NATIVE } from "../_native.ts";

const ignore = NATIVE.length === 0;

/** The sequence's outputs, final state and every input gradient, read back as arrays. */
async function resultsOf(c: CaseData, backend: string, plain: boolean): Promise<Float32Array[]> {
  const f = plain ? plainSequence : fusedSequence;
  const out: Float32Array[] = [];
  await onBackend(backend, async () => {
    const t = caseTensors(c);
    const { weights, xs, state } = unpack(t.names, t.inputs);
    const r = f(c.spec, weights, xs, state)!;
    const grads = tf.grads(lossOf(f, c.spec, t))(t.inputs);
    for (const x of [r.outputs, r.state.h, ...(r.state.c ? [r.state.c] : []), ...grads]) {
      out.push(await x.data() as Float32Array);
    }
    tf.dispose([...t.inputs, t.R, t.Rh, t.Rc, r.outputs, r.state.h, ...grads]);
    if (r.state.c) r.state.c.dispose();
  });
  return out;
}

/** A table [V, D] and ids [T*B] in [0, V] (V: a row of zeros), and xs = [table; 0][ids]. */
function tableOf(c: CaseData, V: number, seed: number) {
  const D = c.spec.inputSize, rng = new Rng(seed);
  const table = Float32Array.from({ length: V * D }, () => rng.next() - 0.5);
  const ids = Float32Array.from({ length: c.T * c.B }, () => Math.floor(rng.next() * (V + 1)));
  const xs = new Float32Array(c.T * c.B * D);
  ids.forEach((id, n) => id < V && xs.set(table.subarray(id * D, (id + 1) * D), n * D));
  return { table, ids, xs };
}

/**
 * The rows case on native: outputs, final state and gradients (the table's
 * first); the reference is `resultsOf` on xs, its xs gradient summed by id.
 */
async function rowsResults(c: CaseData, table: Float32Array, ids: Float32Array, V: number) {
  const out: Float32Array[] = [];
  await onBackend("native", async () => {
    const t = caseTensors(c);
    const inputs = [tf.tensor2d(table, [V, c.spec.inputSize]), ...t.inputs.slice(1)];
    const idsT = tf.tensor2d(ids, [c.T, c.B]);
    const viaRows = (...x: tf.Tensor[]) => {
      const rows: SequenceRows = { table: x[0] as tf.Tensor2D, ids: idsT };
      const { weights, state } = unpack(t.names, [t.inputs[0], ...x.slice(1)]);
      return fusedSequence(c.spec, weights, rows, state);
    };
    const r = viaRows(...inputs);
    const grads = tf.grads((...x: tf.Tensor[]) =>
      lossOf((_s, _w, _xs, _st) => viaRows(...x), c.spec, t)(...t.inputs)
    )(inputs);
    for (const x of [r.outputs, r.state.h, ...(r.state.c ? [r.state.c] : []), ...grads]) {
      out.push(await x.data() as Float32Array);
    }
    tf.dispose([...t.inputs, ...inputs, idsT, t.R, t.Rh, t.Rc, r.outputs, r.state.h, ...grads]);
    if (r.state.c) r.state.c.dispose();
  });
  return out;
}

/** dTable[v] = the sum of dxs over the positions whose id is v. */
function sumById(dxs: Float32Array, ids: Float32Array, V: number, D: number): Float32Array {
  const sums = new Float64Array(V * D);
  ids.forEach((id, n) => {
    for (let j = 0; id < V && j < D; j++) sums[id * D + j] += dxs[n * D + j];
  });
  return Float32Array.from(sums);
}

const SHAPES = [{ T: 4, B: 11, D: 6, H: 44 }, { T: 3, B: 16, D: 5, H: 40 }];

for (const [v, variant] of VARIANTS.entries()) {
  Deno.test({
    name: `native ${variant.name} on partial blocks and panels equals plain tf ops on cpu`,
    ignore,
    async fn() {
      for (const [i, dims] of SHAPES.entries()) {
        const c = makeCase(variant, dims, 500 + 10 * v + i, 0.25);
        const label = `${variant.name} T${dims.T} B${dims.B} H${dims.H}`;
        const native = await resultsOf(c, "native", false);
        const plain = await resultsOf(c, "cpu", true);
        const states = variant.spec.kind === "lstm" ? 3 : 2;
        for (const [k, expected] of plain.entries()) {
          // outputs and states to 1e-5, gradients to 1e-4
          const rtol = k < states ? 1e-5 : 1e-4;
          await assertClose(native[k], expected, rtol, `${label} result ${k}`, 1e-6);
        }
        const V = 9, { table, ids, xs } = tableOf(c, V, 700 + 10 * v + i);
        const asRows = await rowsResults({ ...c, xs }, table, ids, V);
        const reference = await resultsOf({ ...c, xs }, "cpu", true);
        reference[states] = sumById(reference[states], ids, V, dims.D);
        for (const [k, expected] of reference.entries()) {
          const rtol = k < states ? 1e-5 : 1e-4;
          await assertClose(asRows[k], expected, rtol, `${label} rows: result ${k}`, 1e-6);
        }
      }
    },
  });
}
