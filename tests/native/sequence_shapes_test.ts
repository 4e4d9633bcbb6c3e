/**
 * The native sequence kernels on shapes that take each of their code paths:
 * whole 8-row blocks and a block of fewer rows (B = 11), whole panels of units
 * and a last panel of fewer (H = 44: the LSTM's forward handles 8 units a
 * panel, its backward 32, and its gradient row 16 at a time with a scalar
 * tail), against plain tf ops on cpu differentiated by tfjs autograd. The
 * small shapes of tests/kernels/ fit in one block and one panel.
 */
import { tf } from "../../lib/tf.ts";
import { fusedSequence } from "../../lib/kernels/fused_sequence.ts";
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
        for (const [k, expected] of plain.entries()) {
          // outputs and states to 1e-5, gradients (after the first 2 or 3 results) to 1e-4
          const rtol = k < (variant.spec.kind === "lstm" ? 3 : 2) ? 1e-5 : 1e-4;
          await assertClose(native[k], expected, rtol, `${label} result ${k}`, 1e-6);
        }
      }
    },
  });
}
