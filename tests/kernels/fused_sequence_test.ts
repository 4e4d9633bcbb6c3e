/**
 * fusedSequence against two independent references:
 * - plain tf ops, one step at a time, differentiated by tfjs autograd
 *   (outputs and final state to 1e-5, every gradient to 1e-4 relative), on
 *   cpu, wasm and webgpu;
 * - a plain-JS float64 implementation, differentiated by central finite
 *   differences (every gradient of a tiny case, every variant).
 */
import { NATIVE } from "../_native.ts";
import { ok, throws } from "node:assert";
import { tf } from "../../lib/tf.ts";
import type { CellSpec } from "../../lib/cells/types.ts";
import { fusedSequence } from "../../lib/kernels/fused_sequence.ts";
import { plainSequence } from "./_plain.ts";
import {
  assertClose,
  type CaseData,
  caseTensors,
  compareSequences,
  gradient64,
  lossOf,
  makeCase,
  onBackend,
  params64,
  unpack,
  VARIANTS,
} from "./_helpers.ts";
import { finiteDifferences, forward64 } from "./_reference64.ts";

/** Results to 1e-5 absolute, gradients to 1e-4 relative. */
const TOLERANCES = { rtol: 0, atol: 1e-5, gradRtol: 1e-4 };

function compareWithPlain(c: CaseData, label: string): Promise<void> {
  return compareSequences(fusedSequence, plainSequence, c, label, TOLERANCES);
}

const SMALL = { T: 7, B: 3, D: 5, H: 4 };
const EDGES = [{ T: 1, B: 1, D: 1, H: 1 }, { T: 1, B: 2, D: 3, H: 3 }, { T: 3, B: 1, D: 2, H: 5 }];
const WIDER = { T: 12, B: 8, D: 10, H: 16 };

for (const backend of ["cpu", ...NATIVE, "wasm", "webgpu"]) {
  for (const [v, variant] of VARIANTS.entries()) {
    Deno.test(`fusedSequence() equals plain tf ops and their autograd on ${backend}: ${variant.name}`, async () => {
      await onBackend(backend, async () => {
        await compareWithPlain(makeCase(variant, SMALL, 100 + v), `${backend} ${variant.name}`);
        if (backend !== "webgpu") {
          await compareWithPlain(
            makeCase(variant, WIDER, 200 + v, 0.25),
            `${backend} ${variant.name} wider`,
          );
        }
      });
    });
  }
}

for (const backend of ["cpu", ...NATIVE]) {
  for (const [v, variant] of VARIANTS.entries()) {
    Deno.test(`fusedSequence() gradients equal float64 central finite differences on ${backend}: ${variant.name}`, async () => {
      await onBackend(backend, async () => {
        const c = makeCase(variant, { T: 4, B: 2, D: 3, H: 3 }, 300 + v);
        const p = params64(c);
        const w = {
          outputs: Array.from(
            { length: c.T },
            (_, t) => Float64Array.from(c.R.subarray(t * c.B * 3, (t + 1) * c.B * 3)),
          ),
          h: Float64Array.from(c.Rh),
          c: Float64Array.from(c.Rc),
        };
        const t = caseTensors(c);
        // The forward pass first: float32 fused vs float64 reference.
        const { weights, xs, state } = unpack(t.names, t.inputs);
        const r = fusedSequence(c.spec, weights, xs, state);
        const ref = forward64(c.spec, p);
        const flatOutputs = new Float64Array(ref.hs.flatMap((h) => [...h]));
        await assertClose(r.outputs, flatOutputs, 0, `${variant.name} outputs vs float64`, 1e-5);
        await assertClose(r.state.h, ref.h, 0, `${variant.name} h vs float64`, 1e-5);
        if (r.state.c) await assertClose(r.state.c, ref.c, 0, `${variant.name} c vs float64`, 1e-5);
        // Then every gradient.
        const grads = tf.grads(lossOf(fusedSequence, c.spec, t))(t.inputs);
        for (const [i, name] of t.names.entries()) {
          const fd = gradient64(p, name, (values) => finiteDifferences(c.spec, p, w, values));
          await assertClose(
            grads[i],
            fd,
            1e-4,
            `${variant.name} d${name} vs finite differences`,
            1e-6,
          );
        }
        tf.dispose([...t.inputs, t.R, t.Rh, t.Rc, r.outputs, r.state.h, ...grads]);
        if (r.state.c) r.state.c.dispose();
      });
    });
  }
}

for (const backend of ["cpu", ...NATIVE, "wasm"]) {
  Deno.test(`fusedSequence() handles one step, one row and one unit on ${backend}`, async () => {
    await onBackend(backend, async () => {
      for (const [v, variant] of VARIANTS.entries()) {
        for (const [e, dims] of EDGES.entries()) {
          await compareWithPlain(
            makeCase(variant, dims, 400 + 10 * v + e),
            `${backend} ${variant.name} ${JSON.stringify(dims)}`,
          );
        }
      }
    });
  });
}

Deno.test("fusedSequence() gives gradients to tf.Variables through tf.variableGrads", () => {
  const c = makeCase(VARIANTS[4], SMALL, 7);
  const t = caseTensors(c);
  const { weights, xs, state } = unpack(t.names, t.inputs);
  const vars = {
    Wx: tf.variable(weights.Wx),
    Wh: tf.variable(weights.Wh),
    b: tf.variable(weights.b),
  };
  const { value, grads } = tf.variableGrads(() => {
    const r = fusedSequence(c.spec, vars as never, xs, state);
    return tf.add(tf.sum(r.outputs), tf.sum(r.state.c!)) as tf.Scalar;
  });
  for (const v of Object.values(vars)) {
    ok(grads[v.name] !== undefined, `variable ${v.name} got a gradient`);
    ok(grads[v.name].shape.join() === v.shape.join());
  }
  tf.dispose([
    value,
    ...Object.values(grads),
    ...Object.values(vars),
    ...t.inputs,
    t.R,
    t.Rh,
    t.Rc,
  ]);
});

Deno.test("fusedSequence() without a tape leaves no tensors behind but its results", () => {
  const c = makeCase(VARIANTS[4], SMALL, 8);
  const t = caseTensors(c);
  const { weights, xs, state } = unpack(t.names, t.inputs);
  const before = tf.memory().numTensors;
  const r = fusedSequence(c.spec, weights, xs, state);
  ok(
    tf.memory().numTensors === before + 3,
    `outputs, h and c only (${tf.memory().numTensors - before})`,
  );
  tf.dispose([r.outputs, r.state.h, r.state.c!, ...t.inputs, t.R, t.Rh, t.Rc]);
});

Deno.test("fusedSequence() treats a missing LSTM c as zeros", async () => {
  const c = makeCase(VARIANTS[4], SMALL, 9);
  const t = caseTensors(c);
  const { weights, xs, state } = unpack(t.names, t.inputs);
  const a = fusedSequence(c.spec, weights, xs, { h: state.h });
  const zeros = tf.zeros([c.B, 4]) as tf.Tensor2D;
  const b = fusedSequence(c.spec, weights, xs, { h: state.h, c: zeros });
  await assertClose(a.outputs, b.outputs, 0, "outputs", 0);
  tf.dispose([a.outputs, a.state.h, a.state.c!, b.outputs, b.state.h, b.state.c!, zeros]);
  tf.dispose([...t.inputs, t.R, t.Rh, t.Rc]);
});

Deno.test("fusedSequence() rejects shapes that do not fit the spec, naming the tensor", () => {
  const spec: CellSpec = { kind: "gru", inputSize: 3, hiddenSize: 2 };
  const w = { Wx: tf.zeros([3, 6]), Wh: tf.zeros([2, 6]), b: tf.zeros([6]) } as never;
  const xs = tf.zeros([4, 5, 3]) as tf.Tensor3D, h = tf.zeros([5, 2]) as tf.Tensor2D;
  throws(
    () => fusedSequence({ ...spec, inputSize: 4 }, w, xs, { h }),
    /xs has 3 inputs per step, the cell expects 4/,
  );
  throws(
    () => fusedSequence(spec, { ...(w as object), Wh: tf.zeros([2, 4]) } as never, xs, { h }),
    /Wh must have shape \[2,6\], got \[2,4\]/,
  );
  throws(
    () => fusedSequence(spec, w, xs, { h: tf.zeros([4, 2]) as tf.Tensor2D }),
    /state.h must have shape \[5,2\]/,
  );
  throws(
    () => fusedSequence({ ...spec, resetAfter: true }, w, xs, { h }),
    /bhh must have shape \[2\], got nothing/,
  );
  throws(
    () => fusedSequence(spec, w, tf.zeros([0, 5, 3]) as tf.Tensor3D, { h }),
    /xs must be \[T, B, D\] with T, B >= 1/,
  );
  tf.disposeVariables();
});
