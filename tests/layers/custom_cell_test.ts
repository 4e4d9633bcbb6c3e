/**
 * recurrent() takes a user's own CellDefinition: a tiny leaky-tanh cell,
 * stacked 2 layers deep, bidirectional, with lengths, against a plain-JS
 * float64 reference of the whole stack.
 */
import { ok } from "node:assert";
import { tf } from "../../lib/tf.ts";
import type { CellDefinition } from "../../lib/cells/definition.ts";
import { matMul } from "../../lib/ops/matmul.ts";
import { recurrent } from "../../lib/layers/stack.ts";
import { Rng } from "../../lib/rng.ts";
import { assertClose, rejectsWith, values } from "../cells/_helpers.ts";

type Mat = number[][];

/** h' = (1 − a) ⊙ h + a ⊙ tanh(x W_x + h W_h + b), with a learned per-unit rate a = σ(r). */
const leaky: CellDefinition = {
  kind: "leaky",
  gates: ["h"],
  state: ["h"],
  parameters: () => [{ key: "r", name: "r", blocks: 1, initial: 0 }],
  step: (_spec, w, xw, state) => {
    const a = tf.sigmoid(w.r!);
    const candidate = tf.tanh(tf.add(xw, matMul(state.h, w.Wh)));
    return { h: tf.add(tf.mul(tf.sub(1, a), state.h), tf.mul(a, candidate)) as tf.Tensor2D };
  },
};

const rand = (rows: number, cols: number, rng: Rng): Mat =>
  Array.from({ length: rows }, () => Array.from({ length: cols }, () => 2 * rng.next() - 1));

interface RefCell {
  Wx: Mat;
  Wh: Mat;
  b: number[];
  r: number[];
}

function refStep(w: RefCell, x: number[], h: number[]): number[] {
  return h.map((hj, j) => {
    let z = w.b[j];
    x.forEach((v, k) => z += v * w.Wx[k][j]);
    h.forEach((v, k) => z += v * w.Wh[k][j]);
    const a = 1 / (1 + Math.exp(-w.r[j]));
    return (1 - a) * hj + a * Math.tanh(z);
  });
}

/** One direction over each row's real steps; zeros past each length. */
function refDirection(w: RefCell, xs: Mat[], lengths: number[], reverse: boolean, H: number) {
  const outs: Mat[] = xs.map((x) => x.map(() => Array(H).fill(0)));
  const finals: Mat = [];
  lengths.forEach((L, row) => {
    let h = Array(H).fill(0);
    for (let k = 0; k < L; k++) {
      const t = reverse ? L - 1 - k : k;
      h = refStep(w, xs[t][row], h);
      outs[t][row] = h;
    }
    finals.push(h);
  });
  return { outs, finals };
}

Deno.test("recurrent() stacks a user's own cell: 2 layers, bidirectional, lengths, float64 reference", async () => {
  const [T, B, D, H] = [4, 3, 2, 3];
  const lengths = [4, 1, 3];
  const rng = new Rng(21);
  const stack = recurrent({
    cell: leaky,
    inputSize: D,
    hiddenSize: H,
    layers: 2,
    bidirectional: true,
  });
  const keys = ["l0", "l0_reverse", "l1", "l1_reverse"];
  const ref: RefCell[] = keys.map((_, k) => {
    const Din = k < 2 ? D : 2 * H;
    return {
      Wx: rand(Din, H, rng),
      Wh: rand(H, H, rng),
      b: rand(1, H, rng)[0],
      r: rand(1, H, rng)[0],
    };
  });
  stack.setWeights(Object.fromEntries(keys.map((key, k) => [key, {
    W_xh: tf.tensor2d(ref[k].Wx),
    W_hh: tf.tensor2d(ref[k].Wh),
    b_h: tf.tensor1d(ref[k].b),
    r: tf.tensor1d(ref[k].r),
  }])));
  const xs = Array.from({ length: T }, () => rand(B, D, rng));
  // Reference: layer 0 both ways, concatenated, then layer 1 both ways.
  let input = xs;
  const finals: Mat[] = [];
  for (let layer = 0; layer < 2; layer++) {
    const f = refDirection(ref[2 * layer], input, lengths, false, H);
    const r = refDirection(ref[2 * layer + 1], input, lengths, true, H);
    finals.push(f.finals, r.finals);
    input = f.outs.map((step, t) => step.map((row, b) => [...row, ...r.outs[t][b]]));
  }
  const { outputs, state } = stack.forward(tf.tensor3d(xs) as tf.Tensor3D, { lengths });
  assertClose(await values(outputs), input, 1e-5, "outputs");
  for (const [k, s] of state.entries()) assertClose(await values(s.h), finals[k], 1e-5, keys[k]);
  ok(stack.trainableVariables.length === 4 * 4, "Wx, Wh, b and r per cell");
  // Its gradient reaches the user's own parameter.
  const { grads } = tf.variableGrads(() =>
    tf.sum(stack.forward(tf.tensor3d(xs) as tf.Tensor3D, { lengths }).outputs) as tf.Scalar
  );
  ok(Math.max(...(await values(tf.abs(grads[stack.cells[0].weights.r!.name])))) > 0);
  rejectsWith(() => stack.loadTorchStateDict({}), "user's own leaky");
  stack.dispose();
});
