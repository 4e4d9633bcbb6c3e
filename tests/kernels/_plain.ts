/**
 * The reference the fused kernels are checked against: each cell written
 * step by step with plain tf ops (d2l's equations, gate blocks sliced out of
 * the fused weights), differentiated by tfjs's own autograd.
 *
 * Deliberately independent of lib/kernels: no shared helpers, real `tanh`.
 */
import { tf } from "../../lib/tf.ts";
import type { CellSpec, FusedWeights, SequenceResult, State } from "../../lib/cells/types.ts";

/** Column block `k` of width `H` of a fused `[R, G*H]` weight (or `[G*H]` bias). */
function part(w: tf.Tensor, k: number, H: number): tf.Tensor {
  return w.rank === 1 ? tf.slice(w, [k * H], [H]) : tf.slice(w, [0, k * H], [w.shape[0], H]);
}

/** `x W_x + h W_h + b` for gate block `k`. */
function affine(w: FusedWeights, x: tf.Tensor, h: tf.Tensor, k: number, H: number): tf.Tensor {
  return tf.add(
    tf.add(tf.matMul(x, part(w.Wx, k, H)), tf.matMul(h, part(w.Wh, k, H))),
    part(w.b, k, H),
  );
}

/** One step of the cell: `(weights, x [B, D], state) -> state`. */
export function plainStep(spec: CellSpec, w: FusedWeights, x: tf.Tensor, state: State): State {
  const H = spec.hiddenSize;
  const h = state.h;
  switch (spec.kind) {
    case "rnn": {
      const a = affine(w, x, h, 0, H);
      return { h: (spec.nonlinearity === "relu" ? tf.relu(a) : tf.tanh(a)) as tf.Tensor2D };
    }
    case "gru": {
      const z = tf.sigmoid(affine(w, x, h, 0, H));
      const r = tf.sigmoid(affine(w, x, h, 1, H));
      const xh = tf.add(tf.matMul(x, part(w.Wx, 2, H)), part(w.b, 2, H));
      const hc = spec.resetAfter
        ? tf.tanh(tf.add(xh, tf.mul(r, tf.add(tf.matMul(h, part(w.Wh, 2, H)), w.bhh!))))
        : tf.tanh(tf.add(xh, tf.matMul(tf.mul(r, h), part(w.Wh, 2, H))));
      return { h: tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), hc)) as tf.Tensor2D };
    }
    case "lstm": {
      const i = tf.sigmoid(affine(w, x, h, 0, H));
      const f = tf.sigmoid(affine(w, x, h, 1, H));
      const o = tf.sigmoid(affine(w, x, h, 2, H));
      const cc = tf.tanh(affine(w, x, h, 3, H));
      const c = tf.add(tf.mul(f, state.c!), tf.mul(i, cc));
      return { h: tf.mul(o, tf.tanh(c)) as tf.Tensor2D, c: c as tf.Tensor2D };
    }
  }
  throw new Error(`plainStep: no reference for ${spec.kind}`);
}

/** The whole sequence, one plain step at a time. Same contract as `fusedSequence`. */
export function plainSequence(
  spec: CellSpec,
  w: FusedWeights,
  xs: tf.Tensor3D,
  state: State,
): SequenceResult {
  const [T, B] = xs.shape;
  let s: State = spec.kind === "lstm"
    ? { h: state.h, c: state.c ?? tf.zeros([B, spec.hiddenSize]) }
    : { h: state.h };
  const hs: tf.Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const x = tf.reshape(tf.slice(xs, [t, 0, 0], [1, B, xs.shape[2]]), [B, xs.shape[2]]);
    s = plainStep(spec, w, x, s);
    hs.push(s.h);
  }
  return { outputs: tf.stack(hs) as tf.Tensor3D, state: s };
}
