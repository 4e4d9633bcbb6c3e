import { deepStrictEqual, ok, throws } from "node:assert";
import { tf } from "../../lib/tf.ts";
import { UsageError } from "../../lib/errors.ts";
import { Rng } from "../../lib/rng.ts";
import { initialWeights, orthogonalMatrix } from "../../lib/cells/init.ts";
import { values } from "./_helpers.ts";

/** Column block g (width H) of a row-major [rows, G*H] matrix, row-major. */
function block(m: number[], rows: number, G: number, H: number, g: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) out.push(...m.slice(r * G * H + g * H, r * G * H + (g + 1) * H));
  return out;
}

Deno.test("initialWeights() is deterministic in its seed and differs across seeds", async () => {
  const spec = { kind: "gru" as const, inputSize: 3, hiddenSize: 4, resetAfter: true };
  for (const init of ["normal", "xavier", "orthogonal"] as const) {
    const a = initialWeights(spec, { init, seed: 1 }), b = initialWeights(spec, { init, seed: 1 });
    const c = initialWeights(spec, { init, seed: 2 });
    for (const key of ["Wx", "Wh", "b", "bhh"] as const) {
      deepStrictEqual(await values(a[key]!), await values(b[key]!), `${init} ${key}`);
    }
    ok((await values(a.Wh)).some((v, i) => v !== (c.Wh.dataSync()[i])), `${init}: seeds differ`);
    deepStrictEqual(await values(a.b), new Array(12).fill(0), "biases start at zero");
    deepStrictEqual(await values(a.bhh!), new Array(4).fill(0));
  }
});

Deno.test("the normal initialiser is d2l's N(0, 0.01)", async () => {
  const w = await values(initialWeights({ kind: "lstm", inputSize: 50, hiddenSize: 50 }).Wx);
  const mean = w.reduce((s, v) => s + v, 0) / w.length;
  const std = Math.sqrt(w.reduce((s, v) => s + (v - mean) ** 2, 0) / w.length);
  ok(Math.abs(mean) < 5e-4 && Math.abs(std - 0.01) < 5e-4, `mean ${mean}, std ${std}`);
});

Deno.test("the xavier initialiser is Glorot uniform per gate block", async () => {
  const [D, H] = [20, 30];
  const w = await values(
    initialWeights({ kind: "lstm", inputSize: D, hiddenSize: H }, { init: "xavier" }).Wx,
  );
  const a = Math.sqrt(6 / (D + H));
  ok(w.every((v) => Math.abs(v) <= a), "within the bound");
  const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  ok(Math.abs(std - a / Math.sqrt(3)) < 0.01 * a, `std ${std}, expected ${a / Math.sqrt(3)}`);
});

Deno.test("the orthogonal initialiser makes every recurrent gate block orthogonal", async () => {
  const H = 6;
  const w = await values(
    initialWeights({ kind: "lstm", inputSize: 3, hiddenSize: H }, { init: "orthogonal" }).Wh,
  );
  for (let g = 0; g < 4; g++) {
    const q = block(w, H, 4, H, g);
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < H; j++) {
        let dot = 0;
        for (let r = 0; r < H; r++) dot += q[r * H + i] * q[r * H + j];
        ok(Math.abs(dot - (i === j ? 1 : 0)) < 1e-6, `block ${g}: column ${i}·${j} = ${dot}`);
      }
    }
  }
  // Non-square: orthonormal columns when tall, rows when wide.
  const tall = orthogonalMatrix(5, 2, new Rng(3));
  const dot = (i: number, j: number) =>
    [0, 1, 2, 3, 4].reduce((s, r) => s + tall[r * 2 + i] * tall[r * 2 + j], 0);
  ok(Math.abs(dot(0, 0) - 1) < 1e-12 && Math.abs(dot(0, 1)) < 1e-12);
});

Deno.test("forgetBias sets b_f of an lstm and is refused elsewhere", async () => {
  const b = await values(
    initialWeights({ kind: "lstm", inputSize: 2, hiddenSize: 3 }, { forgetBias: 1 }).b,
  );
  deepStrictEqual(b, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
  throws(
    () => initialWeights({ kind: "gru", inputSize: 2, hiddenSize: 3 }, { forgetBias: 1 }),
    (e: Error) => e instanceof UsageError && e.message.includes("forgetBias"),
  );
});

Deno.test("initialWeights() rejects an unknown initialiser by name", () => {
  throws(
    () =>
      initialWeights({ kind: "rnn", inputSize: 2, hiddenSize: 3 }, { init: "kaiming" as "normal" }),
    (e: Error) =>
      e instanceof UsageError && e.message.includes('"kaiming"') &&
      e.message.includes("normal, xavier, orthogonal"),
  );
  tf.disposeVariables();
});
