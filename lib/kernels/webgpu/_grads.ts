/**
 * Weight gradients of a whole sequence in one WGSL dispatch:
 * `[Hsrc, X, 1]^T dZ` over all `N = T*B` rows, already in the weights'
 * orientation (`dWh` `[H, W]`, `dWx` `[D, W]`, `db` `[W]`), with no transpose.
 * On the llvmpipe adapter tfjs's `transpose` of a `[1120, 1024]` `dZ` alone
 * takes ~0.3 s and the transposed matmul ~0.8 s; this takes a fraction.
 *
 * Each invocation owns `4*SR` source columns x `4*WR` gradient columns and
 * walks the rows, with vec4 loads of both operands (so `W` must be a multiple
 * of 4; the sources are padded to a multiple of `4*SR`).
 *
 * @module
 */
import { tf } from "../../tf.ts";
import type { Tensor } from "../../ops/tensors.ts";
import { allocate, dispatch, StepProgram, toTensor, type WebGpuBackendLike } from "./_program.ts";

/** `n` copies of `line(i)` joined. */
function rep(n: number, line: (i: number) => string): string {
  return Array.from({ length: n }, (_, i) => line(i)).join(" ");
}

/**
 * The kernel for a tile of `4*SR` source columns x `4*WR` gradient columns per
 * invocation: each load is shared by the other operand's whole tile (the rows
 * are still summed in order, so the tile does not change the results).
 */
function body(SR: number, WR: number): string {
  return `
  let N = uniforms.nrows; let S4 = uniforms.s4; let W4 = uniforms.w4;
  let WT = W4 / ${WR};
  if (index >= (S4 / ${SR}) * WT) { return; }
  let sg = index / WT;
  let s4 = sg * ${SR};
  let n4 = (index - sg * WT) * ${WR};
  ${rep(SR * WR * 4, (i) => `var a${i} = vec4<f32>(0.0);`)}
  for (var r = 0; r < N; r++) {
    ${rep(SR, (p) => `let s${p} = src[r * S4 + s4 + ${p}];`)}
    ${rep(WR, (q) => `let d${q} = dz[r * W4 + n4 + ${q}];`)}
    ${
    rep(SR, (p) =>
      rep(WR, (q) => {
        const a = (p * WR + q) * 4;
        return `a${a} += s${p}.x * d${q}; a${a + 1} += s${p}.y * d${q}; a${
          a + 2
        } += s${p}.z * d${q}; a${a + 3} += s${p}.w * d${q};`;
      }))
  }
  }
  let W = 4 * W4;
  ${
    rep(SR, (p) =>
      rep(WR, (q) => {
        const a = (p * WR + q) * 4;
        return `store(4 * (s4 + ${p}) * W + 4 * (n4 + ${q}), W, a${a}, a${a + 1}, a${a + 2}, a${
          a + 3
        });`;
      }))
  }
`;
}

/** Writes a 4x4 block of the output at `o` with row stride `W`. */
const STORE = `
  fn store(o : i32, W : i32, a0 : vec4<f32>, a1 : vec4<f32>, a2 : vec4<f32>, a3 : vec4<f32>) {
    for (var e = 0; e < 4; e++) {
      result[o + e] = a0[e];
      result[o + W + e] = a1[e];
      result[o + 2 * W + e] = a2[e];
      result[o + 3 * W + e] = a3[e];
    }
  }
`;

/** Source and gradient vec4s per invocation. */
const SR = 4, WR = 2;

/**
 * `dWh = Hsrc^T dZ`, `dWx = X^T dZ`, `db = sum_rows(dZ)`.
 *
 * @param dZ pre-activation gradients `[N, W]`, `W % 4 == 0`.
 * @param Hsrc recurrent sources `[N, H]`; @param X inputs `[N, D]`.
 * @returns the three gradients, new tensors (tracked by the enclosing tidy).
 *
 * @example On webgpu
 * ```ts
 * import { tf } from "../../tf.ts";
 * import { webgpuBackend } from "./_program.ts";
 * const backend = webgpuBackend(); // null off webgpu
 * if (backend) {
 *   const g = weightGradsWgsl(backend, tf.ones([3, 4]), tf.ones([3, 2]), tf.ones([3, 1]));
 *   console.log(await g.db.data()); // [3, 3, 3, 3]
 *   tf.dispose([g.dWh, g.dWx, g.db]);
 * }
 * ```
 */
export function weightGradsWgsl(
  backend: WebGpuBackendLike,
  dZ: Tensor,
  Hsrc: Tensor,
  X: Tensor,
): { dWh: Tensor; dWx: Tensor; db: Tensor } {
  const [N, W] = dZ.shape as [number, number];
  const H = Hsrc.shape[1] as number, D = X.shape[1] as number;
  const wr = (W / 4) % WR === 0 ? WR : 1;
  const S = H + D + 1, Sp = Math.ceil(S / (4 * SR)) * 4 * SR;
  const src = tf.concat([Hsrc, X, tf.ones([N, 1 + Sp - S])], 1); // [N, Sp]
  const out = toTensor(allocate(backend, Sp * W));
  const program = new StepProgram({
    key: `rnnDenoWeightGrads${SR}x${wr}`,
    inputs: ["src", "dz"],
    components: [4, 4],
    uniforms: ["nrows", "s4", "w4"],
    outputSize: out.size,
    count: (Sp / 4 / SR) * (W / 4 / wr),
    body: body(SR, wr),
    helpers: STORE,
  });
  dispatch(backend, program, [src, dZ], [N, Sp / 4, W / 4], out);
  return {
    dWh: tf.reshape(tf.slice(out, [0], [H * W]), [H, W]),
    dWx: tf.reshape(tf.slice(out, [H * W], [D * W]), [D, W]),
    db: tf.slice(out, [(H + D) * W], [W]),
  };
}
