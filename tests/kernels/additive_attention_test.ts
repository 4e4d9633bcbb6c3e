/**
 * projectedAdditiveAttention(): context and weights against a float64
 * reference, every input's gradient (through both outputs) against finite
 * differences of that reference, on cpu, wasm and native alike; lengths of
 * 0, 1 and K, several queries per batch row, no lengths; exact zeros past
 * each length; no leaks; shapes refused before any kernel runs.
 */
import { ok, throws } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { projectedAdditiveAttention } from "../../lib/kernels/additive_attention.ts";
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
} from "../layers/_fd.ts";
import { NATIVE } from "../_native.ts";

/** One case: B batch rows of K keys, Q queries each, widths h and V. */
interface Case {
  name: string;
  B: number;
  Q: number;
  K: number;
  h: number;
  V: number;
  /** One per query row (B*Q), or none: every key. */
  lengths?: number[];
}

const CASES: Case[] = [
  // Lengths 1, K, 0 and 2 (batch row 1's two queries differ).
  { name: "lengths 1, K, 0, 2", B: 3, Q: 2, K: 4, h: 5, V: 3, lengths: [1, 1, 4, 0, 2, 4] },
  { name: "one query per row, all full", B: 2, Q: 1, K: 3, h: 4, V: 2, lengths: [3, 3] },
  { name: "no lengths", B: 2, Q: 1, K: 3, h: 6, V: 4 },
];

/** The inputs as float64 arrays: q [N, h], k [B, K, h], v [B, K, V], w [h]. */
interface Inputs {
  q: Data;
  k: Data;
  v: Data;
  w: Data;
}

/** Context [N, V] and weights [N, K] in float64, the formula written out. */
function attention64(c: Case, x: Inputs): { context: Float64Array; weights: Float64Array } {
  const { B, Q, K, h, V } = c, N = B * Q;
  const context = new Float64Array(N * V), weights = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    const b = Math.floor(n / Q), L = Math.min(K, Math.max(0, c.lengths?.[n] ?? K));
    const scores: number[] = [];
    for (let k = 0; k < L; k++) {
      let s = 0;
      for (let j = 0; j < h; j++) {
        s += x.w.f64[j] * Math.tanh(x.q.f64[n * h + j] + x.k.f64[(b * K + k) * h + j]);
      }
      scores.push(s);
    }
    const max = Math.max(...scores);
    const sum = scores.reduce((t, s) => t + Math.exp(s - max), 0);
    for (let k = 0; k < L; k++) {
      const a = Math.exp(scores[k] - max) / sum;
      weights[n * K + k] = a;
      for (let u = 0; u < V; u++) context[n * V + u] += a * x.v.f64[(b * K + k) * V + u];
    }
  }
  return { context, weights };
}

/** Fixed random cotangents: the loss `Σ context ⊙ rc + Σ weights ⊙ rw` reaches both outputs. */
function cotangents(c: Case) {
  return { rc: randomData([c.B * c.Q, c.V], 91), rw: randomData([c.B * c.Q, c.K], 92) };
}

function inputs(c: Case): Inputs {
  return {
    q: randomData([c.B * c.Q, c.h], 11),
    k: randomData([c.B, c.K, c.h], 12),
    v: randomData([c.B, c.K, c.V], 13),
    w: randomData([c.h, 1], 14),
  };
}

for (const backend of ["cpu", "wasm", ...NATIVE]) {
  for (const c of CASES) {
    Deno.test(`projectedAdditiveAttention() ${c.name}: values and gradients against float64 on ${backend}`, async () => {
      await onBackend(backend, async () => {
        const x = inputs(c), { rc, rw } = cotangents(c);
        const lengths = c.lengths ? tf.tensor1d(c.lengths, "int32") : undefined;
        const [q, k, v, w] = [x.q, x.k, x.v, x.w].map((d) => toTensor(d));
        const run = (...t: tf.Tensor[]) =>
          projectedAdditiveAttention(
            t[0] as tf.Tensor2D,
            t[1] as tf.Tensor3D,
            t[2] as tf.Tensor3D,
            t[3] as tf.Tensor2D,
            lengths,
          );
        const want = attention64(c, x);
        const got = run(q, k, v, w);
        await assertClose(got.context, Float32Array.from(want.context), 1e-5, "context", 1e-7);
        await assertClose(got.weights, Float32Array.from(want.weights), 1e-5, "weights", 1e-7);
        const masked = c.lengths?.some((L) => L < c.K) ?? false;
        if (masked) {
          const weights = await got.weights.data();
          assertZeroAt(weights, (i) => i % c.K >= c.lengths![Math.floor(i / c.K)], "weights");
        }
        const loss64 = () => {
          const r = attention64(c, x);
          return dot(r.context, rc.f64) + dot(r.weights, rw.f64);
        };
        const [tc, tw] = [toTensor(rc), toTensor(rw)];
        const loss = (...t: tf.Tensor[]) => {
          const r = run(...t);
          return tf.add(tf.sum(tf.mul(r.context, tc)), tf.sum(tf.mul(r.weights, tw))) as tf.Scalar;
        };
        const grads = tf.grads(loss)([q, k, v, w]);
        const names = ["query", "keys", "values", "w_v"];
        for (const [i, data] of [x.q, x.k, x.v, x.w].entries()) {
          const numeric = finiteDifferences(loss64, data.f64);
          await assertClose(await read(grads[i]), numeric, 1e-4, `d${names[i]}`, 1e-6);
        }
        if (masked) {
          // A key no query of its batch row can see gets exactly no gradient.
          const maxLength = (b: number) => Math.max(...c.lengths!.slice(b * c.Q, (b + 1) * c.Q));
          const hidden = (i: number, width: number) => {
            const row = Math.floor(i / width);
            return row % c.K >= maxLength(Math.floor(row / c.K));
          };
          assertZeroAt(await grads[1].data(), (i) => hidden(i, c.h), "dkeys");
          assertZeroAt(await grads[2].data(), (i) => hidden(i, c.V), "dvalues");
        }
        await assertNoLeak(() => tf.dispose(tf.grads(loss)([q, k, v, w])));
        tf.dispose([q, k, v, w, tc, tw, got.context, got.weights, ...grads]);
        lengths?.dispose();
      });
    });
  }
}

for (const backend of ["cpu", ...NATIVE]) {
  Deno.test(`projectedAdditiveAttention() keeps lengths made in a tidy for its backward pass on ${backend}`, async () => {
    await onBackend(backend, async () => {
      const c = CASES[0], x = inputs(c);
      const q = tf.variable(toTensor(x.q));
      const { grads } = tf.variableGrads(() =>
        tf.tidy(() => {
          const lengths = tf.tensor1d(c.lengths!, "int32");
          const r = projectedAdditiveAttention(
            q as tf.Tensor as tf.Tensor2D,
            toTensor(x.k),
            toTensor(x.v),
            toTensor(x.w),
            lengths,
          );
          return tf.sum(r.context) as tf.Scalar;
        })
      );
      ok(Number.isFinite((await grads[q.name].data())[0]));
      tf.dispose([q, grads[q.name]]);
    });
  });
}

Deno.test("projectedAdditiveAttention() refuses shapes that do not fit", () => {
  const q = tf.zeros([4, 3]) as tf.Tensor2D, k = tf.zeros([2, 5, 3]) as tf.Tensor3D;
  const v = tf.zeros([2, 5, 2]) as tf.Tensor3D, w = tf.zeros([3, 1]) as tf.Tensor2D;
  const bad = [
    () => projectedAdditiveAttention(tf.zeros([3, 3]) as tf.Tensor2D, k, v, w), // 3 rows, B = 2
    () => projectedAdditiveAttention(q, tf.zeros([2, 5, 4]) as tf.Tensor3D, v, w), // h differs
    () => projectedAdditiveAttention(q, k, tf.zeros([2, 4, 2]) as tf.Tensor3D, w), // K differs
    () => projectedAdditiveAttention(q, k, v, tf.zeros([3, 2]) as tf.Tensor2D), // w_v not [h, 1]
    () => projectedAdditiveAttention(q, k, v, w, tf.tensor1d([1, 2, 3, 4])), // float lengths
    () => projectedAdditiveAttention(q, k, v, w, tf.tensor1d([1, 2], "int32")), // [B], not [B*Q]
  ];
  for (const f of bad) throws(f, /projectedAdditiveAttention: .*do not fit|expected \[B\*Q, h\]/);
});
