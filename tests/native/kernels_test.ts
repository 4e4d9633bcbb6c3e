/**
 * The native backend's own kernels: GEMM (every transpose, shapes on and off
 * the 8x32 micro-kernel's edges, batched) against a float64 loop and against
 * cpu and wasm, and bitwise equal at 1, 2 and 3 threads; Add/Sub/Multiply,
 * Transpose and PadV2 against cpu; every cell kind's training gradient bitwise
 * equal at 1, 2 and 3 threads; and shape checks before every FFI call. Skipped where no C compiler is found.
 */
import { product64 } from "../kernels/_reference64.ts";
import { deepStrictEqual, ok, throws } from "node:assert";
import { tf, useBackend } from "../../lib/tf.ts";
import { fusedSequence } from "../../lib/kernels/fused_sequence.ts";
import { softmaxCrossEntropy } from "../../lib/kernels/softmax_cross_entropy.ts";
import { checkLength, nativeKernels } from "../../lib/native/backend.ts";
import { Rng } from "../../lib/rng.ts";
import { NATIVE } from "../_native.ts";

const ignore = NATIVE.length === 0;

function normals(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}

/** Runs `f` on a backend and reads its results back as plain arrays. */
async function on(backend: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await useBackend(backend, { threads: 2 });
  try {
    const ts = f();
    const out = await Promise.all(ts.map((t) => t.data() as Promise<Float32Array>));
    tf.dispose(ts);
    return out;
  } finally {
    await useBackend("cpu");
  }
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  ok(a.length === b.length, `lengths ${a.length} and ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return m;
}

/** Runs `f` on native at 1, 2 and 3 threads; its results must be the same to the bit. */
async function sameAtThreadCounts(what: string, f: () => Promise<Float32Array[]>) {
  const at = async (threads: number) => {
    await useBackend("native", { threads });
    try {
      return await f();
    } finally {
      await useBackend("cpu");
    }
  };
  const one = await at(1);
  for (const threads of [2, 3]) {
    const other = await at(threads);
    one.forEach((r, i) => {
      deepStrictEqual(Array.from(other[i]), Array.from(r), `${what} ${i}, ${threads} threads`);
    });
  }
}

Deno.test({
  name: "native matMul equals a float64 product and cpu/wasm, every transpose and edge shape",
  ignore,
  fn: async () => {
    const rng = new Rng(1);
    const shapes = [[1, 1, 1], [7, 33, 5], [8, 32, 300], [9, 65, 17], [33, 31, 257]];
    // These split A's rows across the threads (M >= 2N), over two k-chunks and edge rows.
    shapes.push([67, 5, 300], [130, 33, 40]);
    for (const [M, N, K] of shapes) {
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
        const a = normals(rng, M * K), b = normals(rng, K * N);
        const sa = ta ? [K, M] : [M, K], sb = tb ? [N, K] : [K, N];
        const f = () => [
          tf.matMul(
            tf.tensor2d(a, sa as [number, number]),
            tf.tensor2d(b, sb as [number, number]),
            ta,
            tb,
          ),
        ];
        const [native] = await on("native", f);
        const ref = product64(a, b, [M, K, N], ta, tb);
        const what = `[${M},${K}]x[${K},${N}] ta=${ta} tb=${tb}`;
        ok(maxDiff(native, ref) < 1e-5, `${what} vs float64: ${maxDiff(native, ref)}`);
        for (const other of ["cpu", "wasm"]) {
          const [o] = await on(other, f);
          ok(maxDiff(native, o) < 1e-5, `${what} vs ${other}`);
        }
      }
    }
    // Batched, with a broadcast operand.
    const a = normals(rng, 3 * 4 * 5), b = normals(rng, 5 * 6);
    const f = () => [tf.matMul(tf.tensor3d(a, [3, 4, 5]), tf.tensor3d(b, [1, 5, 6]))];
    const [n] = await on("native", f), [c] = await on("cpu", f);
    ok(maxDiff(n, c) < 1e-5, "batched");
  },
});

Deno.test({
  name:
    "native Add/Sub/Multiply (same shape, scalar, broadcast), Transpose, N-D Transpose, PadV2, Slice, SplitV, Concat and Sum equal cpu's",
  ignore,
  fn: async () => {
    const rng = new Rng(2);
    const x = normals(rng, 6 * 7), y = normals(rng, 6 * 7);
    const f = () => {
      const a = tf.tensor2d(x, [6, 7]), b = tf.tensor2d(y, [6, 7]), s = tf.scalar(0.5);
      return [
        tf.add(a, b),
        tf.sub(a, b),
        tf.mul(a, b),
        tf.mul(a, s),
        tf.sub(s, a),
        tf.add(a, tf.tensor1d(y.subarray(0, 7))), // broadcast: a bias row
        tf.mul(tf.reshape(a, [2, 3, 7]), tf.tensor3d(y.subarray(0, 14), [2, 1, 7])),
        tf.sub(tf.tensor2d(x.subarray(0, 3), [3, 1]), tf.tensor2d(y.subarray(0, 4), [1, 4])),
        tf.mul(tf.tensor1d(y.subarray(0, 7)), tf.reshape(a, [3, 2, 7])),
        tf.add(tf.reshape(a, [6, 7, 1]), tf.tensor2d(y.subarray(0, 6), [1, 6])), // [6, 7, 6]
        tf.sub(a, tf.tensor2d([[0.25]])),
        tf.slice(a, [1, 2], [3, 4]), // strided rows
        tf.slice(a, [2, 0], [3, -1]), // contiguous
        tf.slice(tf.reshape(a, [2, 3, 7]), [0, 1, 0], [2, 2, 7]), // whole last dim: runs of 14
        tf.slice(tf.reshape(a, [2, 3, 7]), [1, 0, 6], [1, 3, 1]),
        tf.slice(a, [0, 0], [0, 3]), // empty
        ...tf.split(a, [2, 5], 1),
        ...tf.split(tf.reshape(a, [2, 3, 7]), 3, 1),
        tf.transpose(tf.reshape(a, [2, 3, 7]), [1, 0, 2]),
        tf.transpose(tf.reshape(a, [3, 2, 1, 7]), [2, 0, 1, 3]),
        tf.transpose(tf.reshape(a, [2, 3, 7]), [2, 0, 1]), // moves the last axis: cpu's
        tf.sum(a),
        tf.sum(a, 0),
        tf.sum(a, 1, true),
        tf.sum(tf.reshape(a, [2, 3, 7]), 1),
        tf.sum(tf.reshape(a, [2, 3, 7]), [0, 1]),
        tf.sum(tf.reshape(a, [2, 3, 7]), [0, 2]), // not contiguous: cpu's
        tf.transpose(a),
        tf.pad(a, [[1, 2], [0, 3]], 1.5),
        tf.pad(tf.reshape(a, [2, 3, 7]), [[0, 1], [1, 0], [2, 2]]),
        tf.pad(tf.reshape(a, [2, 3, 7]), [[2, 1], [0, 0], [0, 0]], -1), // one run
        tf.pad(tf.reshape(a, [2, 3, 7]), [[0, 0], [1, 2], [0, 0]]), // runs of 21
        tf.pad(a, [[0, 2], [0, 0]]), // a slice's gradient
        tf.concat([a, tf.slice(a, [0, 0], [2, 7])], 0),
        tf.concat([a, tf.slice(a, [0, 0], [6, 3]), tf.slice(a, [0, 6], [6, 1])], 1),
        tf.concat(
          [tf.reshape(a, [2, 3, 7]), tf.reshape(tf.slice(a, [0, 0], [6, 2]), [2, 3, 2])],
          2,
        ),
        tf.concat([tf.reshape(a, [2, 3, 7]), tf.reshape(a, [2, 3, 7])], 1), // the middle axis
        tf.concat([a, tf.zeros([6, 0])], 1), // an empty input
        tf.concat([tf.zeros([0, 7]), tf.zeros([0, 7])], 0), // an empty result
      ];
    };
    const native = await on("native", f), cpu = await on("cpu", f);
    for (const name of ["Slice", "SplitV", "Concat", "PadV2", "Sum"]) {
      ok(
        tf.getKernel(name, "native") !== undefined &&
          tf.getKernel(name, "native")?.kernelFunc !== tf.getKernel(name, "cpu")?.kernelFunc,
        `${name} is the native backend's own kernel`,
      );
    }
    native.forEach((n, i) => deepStrictEqual(Array.from(n), Array.from(cpu[i]), `result ${i}`));
  },
});

Deno.test({
  name:
    "native Floor, RealDiv, LogicalNot, ZerosLike and Select are its own kernels and equal cpu's to the bit (NaN, infinities, -0 included)",
  ignore,
  fn: async () => {
    for (const name of ["Floor", "RealDiv", "LogicalNot", "ZerosLike", "Select"]) {
      ok(
        tf.getKernel(name, "native")?.kernelFunc !== tf.getKernel(name, "cpu")?.kernelFunc,
        `${name} is the native backend's own kernel`,
      );
    }
    const rng = new Rng(5);
    const x = normals(rng, 6 * 7).map((v) => v * 3);
    x.set([NaN, Infinity, -Infinity, -0, 0, 2.5, -2.5, 1e-40]);
    const y = normals(rng, 6 * 7);
    y.set([0, -0, 2, NaN, Infinity, 3, 0.7, -1e-3]);
    const f = () => {
      const a = tf.tensor2d(x, [6, 7]), b = tf.tensor2d(y, [6, 7]);
      const mask = tf.greater(b, 0);
      return [
        tf.floor(a),
        tf.div(a, b),
        tf.div(a, tf.scalar(0.8)), // dropout's 1 / keep
        tf.div(tf.scalar(-1.5), b),
        tf.div(a, tf.tensor1d(y.subarray(0, 7))), // broadcast: cpu's
        tf.logicalNot(mask),
        tf.zerosLike(a),
        tf.zerosLike(tf.tensor1d([3, 4], "int32")),
        tf.zerosLike(mask),
        tf.where(mask, a, b),
        tf.where(tf.tensor2d([true, false, true, false, true, false], [6, 1]), a, b), // a column
      ];
    };
    const native = await on("native", f), cpu = await on("cpu", f);
    native.forEach((n, i) => deepStrictEqual(Array.from(n), Array.from(cpu[i]), `result ${i}`));
  },
});

type SequenceSpec = { kind: "lstm" | "gru" | "rnn"; resetAfter?: boolean };

/** A sequence of batch B and its gradients come out the same to the bit at 1, 2 and 3 threads. */
async function sameForBatch(spec: SequenceSpec, B: number) {
  const rng = new Rng(3);
  const G = spec.kind === "lstm" ? 4 : spec.kind === "gru" ? 3 : 1;
  const [T, D, H] = [9, 7, 37];
  const data = {
    xs: normals(rng, T * B * D),
    Wx: normals(rng, D * G * H),
    Wh: normals(rng, H * G * H),
    b: normals(rng, G * H),
    h: normals(rng, B * H),
  };
  const full = { ...spec, inputSize: D, hiddenSize: H };
  await sameAtThreadCounts("gradient", async () => {
    const xs = tf.tensor3d(data.xs, [T, B, D]), Wx = tf.tensor2d(data.Wx, [D, G * H]);
    const Wh = tf.tensor2d(data.Wh, [H, G * H]), b = tf.tensor1d(data.b);
    const h = tf.tensor2d(data.h, [B, H]);
    const bhh = full.kind === "gru" && full.resetAfter ? tf.zeros([H]) as tf.Tensor1D : undefined;
    const loss = (x: tf.Tensor, wx: tf.Tensor, wh: tf.Tensor, h0: tf.Tensor) =>
      tf.sum(tf.square(
        fusedSequence(
          full,
          { Wx: wx as tf.Tensor2D, Wh: wh as tf.Tensor2D, b, ...(bhh ? { bhh } : {}) },
          x as tf.Tensor3D,
          { h: h0 as tf.Tensor2D },
        )
          .outputs,
      ));
    const grads = tf.grads(loss)([xs, Wx, Wh, h]);
    return await Promise.all(grads.map((g) => g.data() as Promise<Float32Array>));
  });
}

for (
  const spec of [
    { kind: "lstm" as const },
    { kind: "gru" as const, resetAfter: false },
    { kind: "gru" as const, resetAfter: true },
    { kind: "rnn" as const },
  ]
) {
  const label = spec.kind === "gru"
    ? `gru (reset ${spec.resetAfter ? "after" : "before"})`
    : spec.kind;
  Deno.test({
    name:
      `native results do not depend on the thread count (${label} sequence and its gradients, 1, 2 and 3 threads)`,
    ignore,
    fn: async () => {
      // Blocks of 8 rows. B = 19: three, the last one short; the backward's threads split each
      // step's units at 2 threads, the rows at 1 and 3 (each runs every step of its blocks).
      // B = 16: two, the other way. B = 64: eight, the forward's rows too at 1 and 2 threads.
      for (const B of [19, 16, 64]) await sameForBatch(spec, B);
    },
  });
}

Deno.test({
  name:
    "native softmax cross-entropy (loss and gradient, with and without class weights) is the same to the bit at 1, 2 and 3 threads",
  ignore,
  fn: async () => {
    const rng = new Rng(6);
    const N = 301, C = 37;
    const logits = normals(rng, N * C).map((v) => 4 * v);
    const labels = Int32Array.from({ length: N }, (_, n) => (n * 7) % C);
    const weights = Float32Array.from({ length: C }, (_, c) => 0.5 + (c % 3));
    await sameAtThreadCounts("cross-entropy", async () => {
      const out: Float32Array[] = [];
      for (const w of [undefined, weights]) {
        const x = tf.tensor2d(logits, [N, C]);
        const { value, grads } = tf.valueAndGrads((a: tf.Tensor) =>
          softmaxCrossEntropy(
            a as tf.Tensor2D,
            tf.tensor1d(labels, "int32"),
            w && tf.tensor1d(w),
          )
        )([x]);
        out.push(await value.data() as Float32Array, await grads[0].data() as Float32Array);
        tf.dispose([x, value, ...grads]);
      }
      return out;
    });
  },
});

Deno.test({
  name: "native matMul is the same to the bit at 1, 2 and 3 threads (columns or rows split)",
  ignore,
  fn: async () => {
    const rng = new Rng(4);
    // [M, N, K]: a column split, then row splits (M >= 2N) with edge blocks and two k-chunks.
    const shapes = [[40, 70, 33], [150, 9, 300], [1152, 256, 77]];
    const inputs = shapes.map(([M, N, K]) => [normals(rng, M * K), normals(rng, K * N)]);
    await sameAtThreadCounts("product", async () => {
      const out: Float32Array[] = [];
      for (let i = 0; i < shapes.length; i++) {
        const [M, N, K] = shapes[i], [a, b] = inputs[i];
        for (const [ta, tb] of [[false, false], [true, false], [false, true]]) {
          const y = tf.matMul(
            tf.tensor2d(a, (ta ? [K, M] : [M, K]) as [number, number]),
            tf.tensor2d(b, (tb ? [N, K] : [K, N]) as [number, number]),
            ta,
            tb,
          );
          out.push(await y.data() as Float32Array);
          y.dispose();
        }
      }
      return out;
    });
  },
});

Deno.test({
  name: "native kernels check sizes before the call: a wrong length throws",
  ignore,
  fn: async () => {
    throws(() => checkLength("k", "Wx", new Float32Array(3), 4), /k: Wx has 3 values, expected 4/);
    await useBackend("native", { threads: 1 });
    try {
      ok(nativeKernels() !== null);
      throws(() => tf.matMul(tf.zeros([2, 3]), tf.zeros([4, 5])), /must match|inner/);
    } finally {
      await useBackend("cpu");
    }
    ok(nativeKernels() === null, "not on another backend");
  },
});

Deno.test({
  name: "native core probe: one thread's multiply-add rate, then each thread's while all run",
  ignore,
  fn: async () => {
    for (const threads of [1, 2, 3]) {
      await useBackend("native", { threads });
      try {
        const out = new Float64Array(65);
        const n = nativeKernels()!.rnn_core_probe(100_000n, out);
        deepStrictEqual(n, threads);
        ok(
          out.subarray(0, 1 + n).every((r) => r > 0.1 && r < 1e5),
          `rates ${out.subarray(0, 1 + n)}`,
        );
        ok(out.subarray(1 + n).every((r) => r === 0), "nothing written past the threads");
      } finally {
        await useBackend("cpu");
      }
    }
  },
});
