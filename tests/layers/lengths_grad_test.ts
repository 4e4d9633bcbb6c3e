/**
 * Variable-length batches (`lengths`), backward: for every cell kind the
 * float32 gradient through runSequence with lengths matches central finite
 * differences of a float64 plain-JS reference that runs each sequence alone
 * (so it never reads the padding); the gradient of every padded input is
 * exactly 0; the gradients equal the sum of the gradients of each sequence run
 * alone (runSequence and a 2-layer bidirectional stack); and wasm and webgpu
 * give cpu's gradients to 1e-4 relative.
 */
import { deepStrictEqual, ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { assertClose, type CaseData, onBackend, VARIANTS } from "../kernels/_helpers.ts";
import { assertNear } from "./_lengths.ts";
import { NATIVE } from "../_native.ts";
import {
  ATOL,
  B,
  caseOf,
  D,
  H,
  inputData,
  inputNames,
  inputShape,
  LENGTHS,
  type P64,
  refLoss,
  RTOL,
  stackCoefficients,
  stackLoss,
  stackOf,
  T,
  tfLoss,
} from "./_lengths64.ts";

/** The analytic gradients of every input, read back, on the current backend. */
async function analytic(c: CaseData, lengths: number[] | undefined): Promise<Float32Array[]> {
  const names = inputNames(c.spec);
  const inputs = names.map((n) => tf.tensor(inputData(c, n), inputShape(c, n)));
  const grads = tf.grads(tfLoss(c, lengths))(inputs);
  const out = await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array));
  tf.dispose([...inputs, ...grads]);
  return out;
}

const fdWorst = { ratio: 0, abs: 0 };

for (const [v, variant] of VARIANTS.entries()) {
  Deno.test(`${variant.name}: gradients through runSequence with lengths match float64 finite differences`, async () => {
    const c = caseOf(v);
    const names = inputNames(c.spec);
    const grads = await analytic(c, LENGTHS);
    const p: P64 = Object.fromEntries(names.map((n) => [n, Float64Array.from(inputData(c, n))]));
    const eps = 1e-6;
    let checked = 0;
    for (const [k, name] of names.entries()) {
      const values = p[name];
      deepStrictEqual(grads[k].length, values.length, `${name}: gradient size`);
      for (let i = 0; i < values.length; i++) {
        const saved = values[i];
        values[i] = saved + eps;
        const up = refLoss(c, p);
        values[i] = saved - eps;
        const down = refLoss(c, p);
        values[i] = saved;
        const numeric = (up - down) / (2 * eps);
        const diff = Math.abs(grads[k][i] - numeric);
        const bound = ATOL + RTOL * Math.abs(numeric);
        fdWorst.ratio = Math.max(fdWorst.ratio, diff / bound);
        fdWorst.abs = Math.max(fdWorst.abs, diff);
        ok(
          diff <= bound,
          `${variant.name} d${name}[${i}]: analytic ${grads[k][i]}, numeric ${numeric}`,
        );
        checked++;
      }
    }
    ok(checked > 100);
    // The padded inputs: not read, so exactly 0 (not merely small).
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < D; i++) {
          const g = grads[0][(t * B + b) * D + i];
          if (t >= LENGTHS[b]) {
            ok(g === 0, `${variant.name} dxs at padded step ${t} of sequence ${b} is ${g}`);
          }
        }
      }
    }
    // And the real steps do get a gradient (the check above can fail).
    ok(
      grads[0].some((g, i) => g !== 0 && Math.floor(i / D) % B === 1),
      "sequence 1 has input gradients",
    );
  });
}

// ---------------------------------------------------------------- = each sequence alone, summed

/** Variables of every input; `full` with lengths and the sum over sequences run alone on slices of them. */
function sumOfAloneCheck(
  label: string,
  variables: tf.Variable[],
  xs: tf.Variable,
  full: () => tf.Scalar,
  alone: (b: number) => tf.Scalar,
): Promise<void> {
  return (async () => {
    const a = tf.variableGrads(full, variables);
    const s = tf.variableGrads(() => {
      let total = alone(0);
      for (let b = 1; b < B; b++) total = tf.add(total, alone(b));
      return total as tf.Scalar;
    }, variables);
    assertNear([await a.value.data()][0], await s.value.data(), 1e-4, `${label} loss`);
    for (const w of variables) {
      const want = await s.grads[w.name].data();
      const scale = Math.max(1, ...Array.from(want, Math.abs));
      assertNear(await a.grads[w.name].data(), want, 1e-5 * scale, `${label} d${w.name}`);
    }
    const dx = await a.grads[xs.name].data();
    const W = xs.shape[2] as number;
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < W; i++) {
          const g = dx[(t * B + b) * W + i];
          if (t >= LENGTHS[b]) {
            ok(g === 0, `${label} dxs at padded step ${t} of sequence ${b} is ${g}`);
          }
        }
      }
    }
    tf.dispose([a.value, s.value, ...Object.values(a.grads), ...Object.values(s.grads)]);
  })();
}

function variableOf(c: CaseData, name: string): tf.Variable {
  return tf.variable(
    tf.tensor(inputData(c, name), inputShape(c, name)),
    true,
    `${name}_${Math.random()}`,
  );
}

Deno.test("runSequence with lengths: gradients = the sum over each sequence run alone, padded dxs exactly 0 (every kind)", async () => {
  for (const [v, variant] of VARIANTS.entries()) {
    const c = caseOf(v);
    const names = inputNames(c.spec);
    const vars = names.map((n) => variableOf(c, n));
    const loss = tfLoss(c, LENGTHS);
    const rowOf = (x: tf.Tensor, b: number, n: number) =>
      x.rank === 3 ? tf.slice(x, [0, b, 0], [n, 1, D]) : tf.slice(x, [b, 0], [1, H]);
    await sumOfAloneCheck(
      `${variant.name} runSequence`,
      vars,
      vars[0],
      () => loss(...vars),
      (b) => {
        // Alone: batch 1, T = its length, its own rows of h0, c0, R, Rh, Rc.
        const sliced = names.map((name, k) =>
          ["xs", "h0", "c0"].includes(name) ? rowOf(vars[k], b, LENGTHS[b]) : vars[k]
        );
        return tfLoss(c, undefined, b)(...sliced);
      },
    );
    tf.dispose(vars);
  }
});

Deno.test("a 2-layer bidirectional stack with lengths: gradients = the sum over each sequence alone (every kind)", async () => {
  for (const v of VARIANTS.keys()) {
    const stack = stackOf(v);
    const coef = stackCoefficients(v, stack);
    const xs = tf.variable(tf.tensor3d(caseOf(v).xs, [T, B, D]), true, `xs_stack_${v}`);
    await sumOfAloneCheck(
      `${VARIANTS[v].name} stack`,
      [...stack.trainableVariables, xs],
      xs,
      () => stackLoss(stack, coef, xs, LENGTHS),
      (b) =>
        stackLoss(
          stack,
          coef,
          tf.slice(xs, [0, b, 0], [LENGTHS[b], 1, D]) as tf.Tensor3D,
          undefined,
          b,
        ),
    );
    xs.dispose();
    stack.dispose();
  }
});

// ---------------------------------------------------------------- backends

/** Every gradient of one variant, runSequence and stack, on the current backend. */
async function allGradients(v: number): Promise<Float32Array[]> {
  const c = caseOf(v);
  const out = await analytic(c, LENGTHS);
  const stack = stackOf(v);
  const coef = stackCoefficients(v, stack);
  const xs = tf.tensor3d(c.xs, [T, B, D]);
  const { value, grads } = tf.variableGrads(
    () => stackLoss(stack, coef, xs, LENGTHS),
    stack.trainableVariables,
  );
  const dx = tf.grad((x: tf.Tensor) => stackLoss(stack, coef, x as tf.Tensor3D, LENGTHS))(xs);
  for (const g of [...stack.trainableVariables.map((w) => grads[w.name]), dx]) {
    out.push((await g.data()) as Float32Array);
  }
  tf.dispose([value, dx, xs, ...Object.values(grads)]);
  stack.dispose();
  return out;
}

const backendWorst: Record<string, number> = {};

for (const backend of [...NATIVE, "wasm", "webgpu"]) {
  Deno.test(`gradients with lengths on ${backend} equal cpu's to 1e-4 relative (runSequence and stack, every kind)`, async () => {
    for (const v of VARIANTS.keys()) {
      const want = await allGradients(v);
      await onBackend(backend, async () => {
        const got = await allGradients(v);
        deepStrictEqual(got.length, want.length);
        for (let k = 0; k < want.length; k++) {
          await assertClose(
            got[k],
            want[k],
            1e-4,
            `${VARIANTS[v].name} on ${backend} gradient ${k}`,
          );
          const scale = Math.max(...Array.from(want[k], Math.abs));
          const diff = Math.max(...Array.from(got[k], (g, i) => Math.abs(g - want[k][i])));
          backendWorst[backend] = Math.max(backendWorst[backend] ?? 0, diff / scale);
        }
      });
    }
  });
}

Deno.test("largest finite-difference error (report)", () => {
  console.log(
    `lengths_grad_test: worst |analytic - numeric| ${fdWorst.abs.toExponential(2)}, ` +
      `worst ratio to the tolerance ${fdWorst.ratio.toFixed(3)}; ` +
      `worst backend |difference| / max |cpu gradient|: ${JSON.stringify(backendWorst)}`,
  );
});
