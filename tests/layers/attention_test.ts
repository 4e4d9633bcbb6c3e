/**
 * maskedSoftmax(), dotProductAttention() and additiveAttention() against the
 * float64 reference of _attention64.ts: forward values, exact zeros on padded
 * keys, garbage in padded keys and values changing nothing, gradients of
 * every input and weight against float64 finite differences, dropout on the
 * weights, input checks, no leaks; and cpu = wasm = webgpu = native (the
 * fused additive op); applyStep() = applyProjected() with one query.
 */
import { deepStrictEqual, notDeepStrictEqual, ok, throws } from "node:assert";
import { tf, useBackend } from "../../lib/tf.ts";
import { UsageError } from "../../lib/errors.ts";
import {
  additiveAttention,
  type AttentionResult,
  dotProductAttention,
  maskedSoftmax,
  type ValidLengths,
} from "../../lib/layers/attention.ts";
import {
  type Additive64,
  additiveScores64,
  allKeys,
  context64,
  type Dims,
  dotScores64,
  type Lengths,
  maskedSoftmax64,
} from "./_attention64.ts";
import {
  assertClose,
  assertNoLeak,
  assertZeroAt,
  type Data,
  dot,
  finiteDifferences,
  onBackend,
  randomData,
  read,
  toTensor,
} from "./_fd.ts";

import { NATIVE } from "../_native.ts";

await useBackend("cpu");

const DIMS: Dims = { B: 2, Q: 3, K: 4, V: 5 };
const { B, Q, K, V } = DIMS;
const [D, DQ, DK, H] = [3, 3, 4, 6]; // dot width; additive query, key and hidden widths

/** The length cases: none, per batch row, per row and query (with a row of 0). */
const LENGTHS: { label: string; js?: ValidLengths; of: Lengths }[] = [
  { label: "no lengths", of: allKeys(K) },
  { label: "lengths [B]", js: [2, 4], of: (b) => [2, 4][b] },
  {
    label: "lengths [B, Q]",
    js: [[1, 3, 0], [4, 2, 3]],
    of: (b, q) => [[1, 3, 0], [4, 2, 3]][b][q],
  },
];

/** A seeded case: inputs, loss weights, additive weights (std 0.5: tanh away from saturation). */
function makeCase(seed: number) {
  const additive: Additive64 = {
    Wq: randomData([DQ, H], seed + 1, 0.5).f64,
    Wk: randomData([DK, H], seed + 2, 0.5).f64,
    wv: randomData([H, 1], seed + 3, 0.5).f64,
    dq: DQ,
    dk: DK,
    h: H,
  };
  return {
    dotQ: randomData([B, Q, D], seed + 4),
    dotK: randomData([B, K, D], seed + 5),
    addQ: randomData([B, Q, DQ], seed + 6),
    addK: randomData([B, K, DK], seed + 7),
    values: randomData([B, K, V], seed + 8),
    R: randomData([B, Q, V], seed + 9), // loss weights of the context
    S: randomData([B, Q, K], seed + 10), // loss weights of the attention weights
    additive,
  };
}
type Case = ReturnType<typeof makeCase>;

/** An additive attention holding the case's weights. */
function additiveOf(c: Case) {
  const layer = additiveAttention({ querySize: DQ, keySize: DK, hiddenSize: H, seed: 3 });
  const { Wq, Wk, wv } = c.additive;
  const weights = {
    W_q: toTensor<tf.Tensor2D>({ shape: [DQ, H], f64: Wq }),
    W_k: toTensor<tf.Tensor2D>({ shape: [DK, H], f64: Wk }),
    w_v: toTensor<tf.Tensor2D>({ shape: [H, 1], f64: wv }),
  };
  layer.setWeights(weights);
  tf.dispose(Object.values(weights));
  return layer;
}

/** The reference's weights and context, and the loss Σ R ⊙ context + Σ S ⊙ weights. */
function reference(c: Case, kind: "dot" | "additive", lengths: Lengths) {
  const scores = kind === "dot"
    ? dotScores64(c.dotQ.f64, c.dotK.f64, DIMS, D)
    : additiveScores64(c.addQ.f64, c.addK.f64, DIMS, c.additive);
  const weights = maskedSoftmax64(scores, DIMS, lengths);
  const context = context64(weights, c.values.f64, DIMS);
  return { weights, context, loss: dot(context, c.R.f64) + dot(weights, c.S.f64) };
}

/** The queries and keys of a kind. */
const inputsOf = (c: Case, kind: "dot" | "additive"): [Data, Data] =>
  kind === "dot" ? [c.dotQ, c.dotK] : [c.addQ, c.addK];

Deno.test("maskedSoftmax() matches the reference: exact zeros past each length, rows sum to 1", async () => {
  const scores = randomData([B, Q, K], 1, 3);
  const s = toTensor<tf.Tensor3D>(scores);
  const tensorForms: Record<string, () => ValidLengths> = {
    "Int32Array": () => Int32Array.of(2, 4),
    "int32 tensor [B]": () => tf.tensor1d([2, 4], "int32"),
    "float32 tensor [B]": () => tf.tensor1d([2, 4]),
    "tensor [B, Q]": () => tf.tensor2d([[1, 3, 0], [4, 2, 3]], [B, Q], "int32"),
  };
  const cases: [string, ValidLengths | undefined, Lengths][] = [
    ...LENGTHS.map(({ label, js, of }) =>
      [label, js, of] as [string, ValidLengths | undefined, Lengths]
    ),
    ...Object.entries(tensorForms).map(([label, make]) =>
      [label, make(), label.includes("Q") ? LENGTHS[2].of : LENGTHS[1].of] as [
        string,
        ValidLengths,
        Lengths,
      ]
    ),
  ];
  for (const [label, lengths, of] of cases) {
    const w = maskedSoftmax(s, lengths);
    const got = await read(w);
    await assertClose(got, maskedSoftmax64(scores.f64, DIMS, of), 1e-6, label, 1e-7);
    if (lengths !== undefined) {
      assertZeroAt(got, (i) => i % K >= of(Math.floor(i / (Q * K)), Math.floor(i / K) % Q), label);
    }
    for (let row = 0; row < B * Q; row++) {
      const n = of(Math.floor(row / Q), row % Q);
      const sum = got.slice(row * K, row * K + K).reduce((a, x) => a + x, 0);
      ok(Math.abs(sum - (n > 0 ? 1 : 0)) < 1e-6, `${label}: row ${row} sums to ${sum}`);
    }
    tf.dispose([w, ...(lengths instanceof tf.Tensor ? [lengths] : [])]);
  }
  s.dispose();
});

Deno.test("maskedSoftmax() rejects lengths that do not fit", () => {
  const s = tf.zeros([B, Q, K]) as tf.Tensor3D;
  const usage = (lengths: ValidLengths, part: string) =>
    throws(
      () => maskedSoftmax(s, lengths),
      (e: Error) => e instanceof UsageError && e.message.includes(part),
    );
  usage([1, 2, 3], "3 entries, expected 2");
  usage([1, 5], "a valid length is 5, expected an integer in [0, 4]");
  usage([-1, 2], "a valid length is -1");
  usage([1.5, 2], "a valid length is 1.5");
  usage([[1, 2], [3, 4]], "expected 2 (one per batch row) or 2 rows of 3");
  const wrong = tf.tensor1d([1, 2, 3], "int32");
  usage(wrong, "validLengths have shape [3], expected [2] or [2, 3]");
  throws(() => maskedSoftmax(tf.zeros([2, 2]) as unknown as tf.Tensor3D), UsageError);
  tf.dispose([s, wrong]);
});

for (const kind of ["dot", "additive"] as const) {
  const run = (c: Case, q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, lengths?: ValidLengths) => {
    if (kind === "dot") return dotProductAttention(q, k, v, { validLengths: lengths });
    const layer = additiveOf(c);
    const result = layer.apply(q, k, v, { validLengths: lengths });
    layer.dispose();
    return result;
  };

  Deno.test(`${kind} attention matches the float64 reference`, async () => {
    const c = makeCase(100);
    const [qd, kd] = inputsOf(c, kind);
    const [q, k, v] = [qd, kd, c.values].map((d) => toTensor<tf.Tensor3D>(d));
    for (const { label, js, of } of LENGTHS) {
      const want = reference(c, kind, of);
      const { context, weights } = run(c, q, k, v, js);
      deepStrictEqual(context.shape, [B, Q, V]);
      deepStrictEqual(weights.shape, [B, Q, K]);
      await assertClose(weights, want.weights, 1e-5, `${label} weights`, 1e-7);
      await assertClose(context, want.context, 1e-5, `${label} context`, 1e-7);
      tf.dispose([context, weights]);
    }
    tf.dispose([q, k, v]);
  });

  Deno.test(`${kind} attention: garbage in padded keys and values changes nothing`, async () => {
    const c = makeCase(200);
    const [qd, kd] = inputsOf(c, kind);
    const lengths = LENGTHS[1]; // [2, 4]: batch row 0 has two padded keys
    const [q, k, v] = [qd, kd, c.values].map((d) => toTensor<tf.Tensor3D>(d));
    const clean = run(c, q, k, v, lengths.js);
    for (const garbage of [1e3, -1e3]) {
      const spoil = (d: Data, width: number) => {
        const f64 = Float64Array.from(d.f64);
        for (let i = 2 * width; i < K * width; i++) f64[i] = garbage * (1 + (i % 3)); // row 0, keys 2, 3
        return toTensor<tf.Tensor3D>({ shape: d.shape, f64 });
      };
      const [k2, v2] = [spoil(kd, kd.shape[2]), spoil(c.values, V)];
      const dirty = run(c, q, k2, v2, lengths.js);
      deepStrictEqual(await read(dirty.weights), await read(clean.weights));
      deepStrictEqual(await read(dirty.context), await read(clean.context));
      tf.dispose([k2, v2, dirty.context, dirty.weights]);
    }
    tf.dispose([q, k, v, clean.context, clean.weights]);
  });

  Deno.test(`${kind} attention gradients match float64 finite differences`, async () => {
    const c = makeCase(300);
    const [qd, kd] = inputsOf(c, kind);
    const [q, k, v] = [qd, kd, c.values].map((d) => toTensor<tf.Tensor3D>(d));
    const [R, S] = [toTensor(c.R), toTensor(c.S)];
    const layer = kind === "additive" ? additiveOf(c) : null;
    for (const { label, js, of } of LENGTHS) {
      const loss = (qi: tf.Tensor, ki: tf.Tensor, vi: tf.Tensor) => {
        const [q3, k3, v3] = [qi, ki, vi] as tf.Tensor3D[];
        const r: AttentionResult = layer
          ? layer.apply(q3, k3, v3, { validLengths: js })
          : dotProductAttention(q3, k3, v3, { validLengths: js });
        return tf.add(tf.sum(tf.mul(r.context, R)), tf.sum(tf.mul(r.weights, S))) as tf.Scalar;
      };
      const loss64 = () => reference(c, kind, of).loss;
      const grads = tf.grads(loss)([q, k, v]);
      for (
        const [i, [name, data]] of ([["dq", qd], ["dk", kd], ["dv", c.values]] as const).entries()
      ) {
        await assertClose(
          grads[i],
          finiteDifferences(loss64, data.f64),
          1e-4,
          `${label} ${name}`,
          1e-6,
        );
      }
      if (js !== undefined) {
        // A key no query of its batch row sees gets exactly zero gradient, and so does its value.
        const seen = (b: number) => Math.max(...Array.from({ length: Q }, (_, q) => of(b, q)));
        for (const [i, width] of [[1, kd.shape[2]], [2, V]]) {
          const padded = (j: number) =>
            Math.floor(j / width) % K >= seen(Math.floor(j / (K * width)));
          assertZeroAt(await read(grads[i]), padded, `${label} padded ${i === 1 ? "dk" : "dv"}`);
        }
      }
      if (layer) {
        const { grads: vg } = tf.variableGrads(() => loss(q, k, v), layer.trainableVariables);
        const { Wq, Wk, wv } = c.additive;
        for (
          const [name, variable, f64] of [["dW_q", layer.W_q, Wq], ["dW_k", layer.W_k, Wk], [
            "dw_v",
            layer.w_v,
            wv,
          ]] as const
        ) {
          await assertClose(
            vg[variable.name],
            finiteDifferences(loss64, f64),
            1e-4,
            `${label} ${name}`,
            1e-6,
          );
        }
        tf.dispose(Object.values(vg));
      }
      tf.dispose(grads);
    }
    layer?.dispose();
    tf.dispose([q, k, v, R, S]);
  });
}

Deno.test("attention dropout acts on the weights while training only, seeded", async () => {
  const c = makeCase(400);
  const [q, k, v] = [c.dotQ, c.dotK, c.values].map((d) => toTensor<tf.Tensor3D>(d));
  const call = (training: boolean, seed?: number) =>
    dotProductAttention(q, k, v, { validLengths: [2, 4], dropout: 0.5, training, seed });
  const [plain, a, b, other] = [call(false), call(true, 1), call(true, 1), call(true, 2)];
  const want = reference(c, "dot", LENGTHS[1].of);
  await assertClose(plain.context, want.context, 1e-5, "not training: no dropout", 1e-7);
  // The returned weights are the ones before dropout (as d2l keeps them).
  deepStrictEqual(await read(a.weights), await read(plain.weights));
  deepStrictEqual(await read(a.context), await read(b.context));
  notDeepStrictEqual(await read(a.context), await read(plain.context));
  notDeepStrictEqual(await read(a.context), await read(other.context));
  const layer = additiveAttention({ querySize: D, keySize: D, hiddenSize: H, dropout: 0.5 });
  const [x, y] = [
    layer.apply(q, k, v, { training: true, seed: 4 }),
    layer.apply(q, k, v, { training: false }),
  ];
  notDeepStrictEqual(await read(x.context), await read(y.context));
  deepStrictEqual(await read(x.weights), await read(y.weights));
  throws(() => dotProductAttention(q, k, v, { dropout: 1, training: true }), UsageError);
  throws(
    () => additiveAttention({ querySize: 1, keySize: 1, hiddenSize: 1, dropout: -0.5 }),
    UsageError,
  );
  layer.dispose();
  tf.dispose([q, k, v, plain, a, b, other, x, y].flatMap((r) =>
    r instanceof tf.Tensor ? [r] : [
      (r as AttentionResult).context,
      (r as AttentionResult).weights,
    ]
  ));
});

Deno.test("additiveAttention() weights: seeded, round trip, checked; shapes checked", async () => {
  const make = (seed: number) =>
    additiveAttention({ querySize: DQ, keySize: DK, hiddenSize: H, seed });
  const [a, b, c] = [make(1), make(1), make(2)];
  deepStrictEqual(a.W_q.shape, [DQ, H]);
  deepStrictEqual(a.W_k.shape, [DK, H]);
  deepStrictEqual(a.w_v.shape, [H, 1]);
  deepStrictEqual(a.trainableVariables, [a.W_q, a.W_k, a.w_v]);
  deepStrictEqual(await read(a.W_k), await read(b.W_k));
  notDeepStrictEqual(await read(a.W_k), await read(c.W_k));
  notDeepStrictEqual(await read(a.W_q), await read(a.W_k).then((w) => w.slice(0, DQ * H)));
  const saved = c.getWeights();
  a.setWeights(saved);
  for (const name of ["W_q", "W_k", "w_v"] as const) {
    deepStrictEqual(await read(a[name]), await read(saved[name]));
  }
  const usage = (f: () => unknown, part: string) =>
    throws(f, (e: Error) => e instanceof UsageError && e.message.includes(part));
  const wrong = { ...saved, w_v: tf.zeros([H, 2]) as tf.Tensor2D };
  usage(() => a.setWeights(wrong), `"w_v" has shape [${H},2], expected [${H},1]`);
  usage(() => a.setWeights({ W_q: saved.W_q } as typeof saved), `"W_k" is missing`);
  const q = tf.zeros([B, Q, DQ]) as tf.Tensor3D, k = tf.zeros([B, K, DK]) as tf.Tensor3D;
  const v = tf.zeros([B, K, V]) as tf.Tensor3D, vShort = tf.zeros([B, K - 1, V]) as tf.Tensor3D;
  usage(
    () => a.apply(k, k, v),
    `queries have width ${DK} and keys ${DK}, expected ${DQ} and ${DK}`,
  );
  usage(() => a.apply(q, k, vShort), "expected [B, Q, d], [B, K, d'], [B, K, v]");
  usage(() => dotProductAttention(q, k, v), `queries have width ${DQ} and keys ${DK}`);
  tf.dispose([...Object.values(saved), wrong.w_v, q, k, v, vShort]);
  for (const layer of [a, b, c]) layer.dispose();
});

Deno.test("attention forward and backward leak no tensors", async () => {
  const c = makeCase(500);
  const [q, k, v] = [c.addQ, c.addK, c.values].map((d) => toTensor<tf.Tensor3D>(d));
  const layer = additiveOf(c);
  const lengths = tf.tensor1d([2, 4], "int32");
  await assertNoLeak(() => {
    const r = layer.apply(q, k, v, { validLengths: lengths, training: true, seed: 1 });
    const { value, grads } = tf.variableGrads(() =>
      tf.sum(layer.apply(q, k, v, { validLengths: [[1, 2, 3], [4, 0, 1]] }).context) as tf.Scalar
    );
    const dq = tf.grads((qi: tf.Tensor) =>
      tf.sum(dotProductAttention(qi as tf.Tensor3D, q, q, { validLengths: lengths }).context)
    )([q]);
    tf.dispose([r.context, r.weights, value, ...Object.values(grads), ...dq]);
  });
  layer.dispose();
  tf.dispose([q, k, v, lengths]);
});

Deno.test("both attentions agree on cpu, wasm, webgpu and native, forward and backward", async () => {
  const c = makeCase(600);
  const runAll = async () => {
    const out: Float64Array[] = [];
    for (const kind of ["dot", "additive"] as const) {
      const [qd, kd] = inputsOf(c, kind);
      const [q, k, v] = [qd, kd, c.values].map((d) => toTensor<tf.Tensor3D>(d));
      const [R, S] = [toTensor(c.R), toTensor(c.S)];
      const layer = kind === "additive" ? additiveOf(c) : null;
      const lengths = tf.tensor2d([[1, 3, 0], [4, 2, 3]], [B, Q], "int32");
      const attend = (qi: tf.Tensor, ki: tf.Tensor, vi: tf.Tensor) => {
        const [q3, k3, v3] = [qi, ki, vi] as tf.Tensor3D[];
        return layer
          ? layer.apply(q3, k3, v3, { validLengths: lengths })
          : dotProductAttention(q3, k3, v3, { validLengths: lengths });
      };
      const loss = (qi: tf.Tensor, ki: tf.Tensor, vi: tf.Tensor) => {
        const r = attend(qi, ki, vi);
        return tf.add(tf.sum(tf.mul(r.context, R)), tf.sum(tf.mul(r.weights, S))) as tf.Scalar;
      };
      const { context, weights } = attend(q, k, v);
      const grads = tf.grads(loss)([q, k, v]);
      const tensors = [context, weights, ...grads];
      if (layer) {
        const { grads: vg } = tf.variableGrads(() => loss(q, k, v), layer.trainableVariables);
        tensors.push(...layer.trainableVariables.map((w) => vg[w.name]));
      }
      for (const t of tensors) out.push(await read(t));
      tf.dispose([...tensors, q, k, v, R, S, lengths]);
      layer?.dispose();
    }
    return out;
  };
  const cpu = await runAll();
  const names = ["dot context", "dot weights", "dot dq", "dot dk", "dot dv", "add context"];
  names.push("add weights", "add dq", "add dk", "add dv", "add dW_q", "add dW_k", "add dw_v");
  for (const backend of ["wasm", "webgpu", ...NATIVE]) {
    let got: Float64Array[] = [];
    await onBackend(backend, async () => {
      got = await runAll();
    });
    for (const [i, name] of names.entries()) {
      await assertClose(got[i], cpu[i], 1e-5, `${backend} ${name}`, 1e-7);
    }
  }
});

for (const backend of ["cpu", ...NATIVE]) {
  Deno.test(`additiveAttention().applyStep() is applyProjected() with one query on ${backend}`, async () => {
    await onBackend(backend, async () => {
      const c = makeCase(700), layer = additiveOf(c);
      const q2 = tf.tensor2d(Float32Array.from(c.addQ.f64.subarray(0, B * DQ)), [B, DQ]);
      const [k, v] = [c.addK, c.values].map((d) => toTensor<tf.Tensor3D>(d));
      const keys = layer.projectKeys(k), options = { validLengths: [1, 3] };
      const step = (q: tf.Tensor) => layer.applyStep(q as tf.Tensor2D, keys, v, options);
      const projected = (q: tf.Tensor) => {
        const r = layer.applyProjected(tf.reshape(q, [B, 1, DQ]) as tf.Tensor3D, keys, v, options);
        return { context: tf.reshape(r.context, [B, V]), weights: tf.reshape(r.weights, [B, K]) };
      };
      const a = step(q2), b = projected(q2);
      await assertClose(a.context, b.context, 1e-6, "context", 1e-7);
      await assertClose(a.weights, b.weights, 1e-6, "weights", 1e-7);
      const lossOf =
        (f: (q: tf.Tensor) => { context: tf.Tensor; weights: tf.Tensor }) => (q: tf.Tensor) => {
          const r = f(q);
          return tf.sum(tf.mul(r.context, tf.sum(r.weights))) as tf.Scalar;
        };
      const [da] = tf.grads(lossOf(step))([q2]), [db] = tf.grads(lossOf(projected))([q2]);
      await assertClose(da, db, 1e-5, "dq", 1e-7);
      await assertNoLeak(() => {
        const r = step(q2);
        tf.dispose([r.context, r.weights, ...tf.grads(lossOf(step))([q2])]);
      });
      throws(
        () => layer.applyStep(tf.zeros([B, 1, DQ]) as unknown as tf.Tensor2D, keys, v),
        UsageError,
      );
      throws(() => layer.applyStep(tf.zeros([B, DQ + 1]) as tf.Tensor2D, keys, v), UsageError);
      throws(() => layer.applyStep(q2, keys, v, { validLengths: [1, 2, 3] }), UsageError);
      tf.dispose([q2, k, v, keys, a.context, a.weights, b.context, b.weights, da, db]);
      layer.dispose();
    });
  });
}
