/**
 * Weight gradients of a whole sequence in one WGSL dispatch:
 * `[Hsrc, X, 1]^T dZ` over all `N = T*B` rows, already in the weights'
 * orientation (`dWh` `[H, W]`, `dWx` `[D, W]`, `db` `[W]`), with no transpose.
 * On the llvmpipe adapter tfjs's `transpose` of a `[1120, 1024]` `dZ` alone
 * takes ~0.3 s and the transposed matmul ~0.8 s; this takes a fraction.
 *
 * Each invocation owns 4 source columns x 4 gradient columns and walks the
 * rows, with vec4 loads of both operands (so `W` must be a multiple of 4; the
 * sources are padded to one).
 *
 * @module
 */
import { tf } from "../../tf.ts";
import { allocate, dispatch, StepProgram, toTensor, type WebGpuBackendLike } from "./_program.ts";

const BODY = `
  let N = uniforms.nrows; let S4 = uniforms.s4; let W4 = uniforms.w4;
  if (index >= S4 * W4) { return; }
  let s4 = index / W4;
  let n4 = index - s4 * W4;
  var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
  for (var r = 0; r < N; r++) {
    let s = src[r * S4 + s4];
    let d = dz[r * W4 + n4];
    a0 += s.x * d; a1 += s.y * d; a2 += s.z * d; a3 += s.w * d;
  }
  let W = 4 * W4;
  let o = 4 * s4 * W + 4 * n4;
  for (var e = 0; e < 4; e++) {
    result[o + e] = a0[e];
    result[o + W + e] = a1[e];
    result[o + 2 * W + e] = a2[e];
    result[o + 3 * W + e] = a3[e];
  }
`;

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
  dZ: tf.Tensor,
  Hsrc: tf.Tensor,
  X: tf.Tensor,
): { dWh: tf.Tensor; dWx: tf.Tensor; db: tf.Tensor } {
  const [N, W] = dZ.shape as [number, number];
  const H = Hsrc.shape[1] as number, D = X.shape[1] as number;
  const S = H + D + 1, Sp = Math.ceil(S / 4) * 4;
  const src = tf.concat([Hsrc, X, tf.ones([N, 1 + Sp - S])], 1); // [N, Sp]
  const out = toTensor(allocate(backend, Sp * W));
  const program = new StepProgram({
    key: "rnnDenoWeightGrads",
    inputs: ["src", "dz"],
    components: [4, 4],
    uniforms: ["nrows", "s4", "w4"],
    outputSize: out.size,
    count: (Sp / 4) * (W / 4),
    body: BODY,
  });
  dispatch(backend, program, [src, dZ], [N, Sp / 4, W / 4], out);
  return {
    dWh: tf.reshape(tf.slice(out, [0], [H * W]), [H, W]),
    dWx: tf.reshape(tf.slice(out, [H * W], [D * W]), [D, W]),
    db: tf.slice(out, [(H + D) * W], [W]),
  };
}
