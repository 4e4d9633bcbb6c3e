/**
 * Plumbing for hand-written WGSL compute programs run through
 * tfjs-backend-webgpu 4.22: a `WebGPUProgram`-shaped object handed to the
 * backend's `runWebGPUProgram(program, inputs, dtype, uniforms, output)`.
 *
 * What the backend provides around the user code (see its
 * `dist/webgpu_program.js`): one read-write output `result: array<f32>`, one
 * read-only `array<f32>` per entry of `variableNames` (bound under that name),
 * a `uniforms` struct holding the shapes and then the program's own fields
 * (`program.uniforms`, values passed per dispatch), and a `_start` entry point
 * that calls `main(index)` with the flat invocation index.
 *
 * The programs here are "step" programs: one invocation per hidden unit
 * `(b, j)`, the step index and sizes as uniforms, writing into a buffer that
 * the caller allocates once per sequence and passes as `output` to every
 * dispatch (WebGPU orders dispatches of a pass, so step `t` sees what step
 * `t-1` wrote). A step program reads earlier steps from `result` itself.
 *
 * @module
 */
import { tf } from "../../tf.ts";
import type { DataType, Tensor, Tensor1D, TensorInfo } from "../../ops/tensors.ts";

/**
 * The part of tfjs-backend-webgpu's `WebGPUBackend` these programs use.
 *
 * @example Structural type of the active backend
 * ```ts
 * const backend: WebGpuBackendLike | null = webgpuBackend();
 * console.log(backend === null ? "not webgpu" : "webgpu");
 * ```
 */
export interface WebGpuBackendLike {
  /** Runs a program on the inputs into a new (or the given) output. */
  runWebGPUProgram(
    program: unknown,
    inputs: TensorInfo[],
    outputDtype: DataType,
    programDefinedUniform?: { type: "int32" | "float32" | "uint32"; data: number[] }[],
    output?: TensorInfo,
  ): TensorInfo;
  /** A new tensor of the backend's. */
  makeTensorInfo(shape: number[], dtype: DataType): TensorInfo;
}

/** Invocations per workgroup. */
const WORKGROUP = 64;

/**
 * The active backend as a WebGPU backend, or null when it is not webgpu.
 *
 * @example Null off webgpu
 * ```ts
 * import { ok } from "node:assert";
 * ok(webgpuBackend() === null || typeof webgpuBackend()!.runWebGPUProgram === "function");
 * ```
 */
export function webgpuBackend(): WebGpuBackendLike | null {
  if (tf.getBackend() !== "webgpu") return null;
  const backend: object = tf.backend();
  return isWebGpuBackend(backend) ? backend : null;
}

/** Whether a tfjs backend runs WebGPU programs (tfjs types backends as the abstract `KernelBackend`). */
function isWebGpuBackend(backend: object): backend is WebGpuBackendLike {
  return "runWebGPUProgram" in backend && typeof backend.runWebGPUProgram === "function";
}

/**
 * WGSL helpers shared by the step programs: the logistic sigmoid and tanh
 * as `2σ(2x) - 1` (finite for every input, unlike a naive exp ratio).
 *
 * @example Module-scope WGSL
 * ```ts
 * import { ok } from "node:assert";
 * ok(WGSL_MATH.includes("fn sigm"));
 * ```
 */
export const WGSL_MATH = `
  fn sigm(x : f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
  fn tanhs(x : f32) -> f32 { return 2.0 / (1.0 + exp(-2.0 * x)) - 1.0; }
`;

/**
 * What makes a {@linkcode StepProgram}.
 *
 * @example A program that doubles its input
 * ```ts
 * const spec: StepProgramSpec = {
 *   key: "double",
 *   inputs: ["x"],
 *   uniforms: ["n"],
 *   outputSize: 8,
 *   count: 8,
 *   body: "if (index < uniforms.n) { result[index] = 2.0 * x[index]; }",
 * };
 * console.log(new StepProgram(spec).getUserCode().length > 0);
 * ```
 */
export interface StepProgramSpec {
  /** Cache key of the WGSL: different code needs a different key. */
  key: string;
  /** Input names, bound as read-only `array<f32>` (or `array<vec4<f32>>`, see `components`). */
  inputs: string[];
  /** Per input: 1 (`f32`) or 4 (`vec4<f32>`, the input's size a multiple of 4). Default all 1. */
  components?: number[];
  /** Names of the `i32` uniforms, read as `uniforms.<name>`. */
  uniforms: readonly string[];
  /** Elements of the output buffer. */
  outputSize: number;
  /** Invocations to run. */
  count: number;
  /** WGSL statements; `index` is the flat invocation index. */
  body: string;
  /** Module-scope WGSL (functions) the body calls, besides {@linkcode WGSL_MATH}. */
  helpers?: string;
}

/**
 * A step program for `runWebGPUProgram`. A new object per dispatch: the
 * backend rewrites `shaderKey` and `dispatch` on the object it is given.
 *
 * @example Run one on webgpu (nothing elsewhere)
 * ```ts
 * import { tf } from "../../tf.ts";
 * const backend = webgpuBackend();
 * if (backend) {
 *   const x = tf.range(0, 8, 1, "float32");
 *   const out = toTensor(allocate(backend, 8));
 *   const p = new StepProgram({
 *     key: "double",
 *     inputs: ["x"],
 *     uniforms: ["n"],
 *     outputSize: 8,
 *     count: 8,
 *     body: "if (index < uniforms.n) { result[index] = 2.0 * x[index]; }",
 *   });
 *   dispatch(backend, p, [x], [8], out);
 *   console.log(await out.data());
 * }
 * ```
 */
export class StepProgram {
  /** The input buffers' names, in order. */
  variableNames: string[];
  /** Per input, its vector width in the shader (vec4 reads), when not 1. */
  variableComponents?: number[];
  /** The output's shape. */
  outputShape: number[];
  /** The key tfjs caches the compiled shader under. */
  shaderKey: string;
  /** One flat dispatch axis. */
  dispatchLayout = { x: [0] };
  /** Workgroups per dispatch. */
  dispatch: [number, number, number];
  /** Threads per workgroup. */
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  /** tfjs's `size` uniform: not used. */
  size = false;
  /** The uniforms' WGSL declarations. */
  uniforms: string;
  private body: string;
  private helpers: string;

  /** A program from its spec: inputs, output size, uniforms, threads and WGSL body. */
  constructor(spec: StepProgramSpec) {
    // The backend's own key covers ranks, dtypes and names, not the components.
    this.shaderKey = spec.components ? `${spec.key}_${spec.components.join("")}` : spec.key;
    this.variableNames = spec.inputs;
    if (spec.components) this.variableComponents = spec.components;
    this.outputShape = [spec.outputSize];
    this.uniforms = spec.uniforms.map((n) => `${n} : i32,`).join(" ");
    this.dispatch = [Math.ceil(spec.count / WORKGROUP), 1, 1];
    this.body = spec.body;
    this.helpers = spec.helpers ?? "";
  }

  /** The WGSL after the backend's prelude; `main(index : i32)` is what `_start` calls. */
  getUserCode(): string {
    // Same signature as tfjs-backend-webgpu's `getMainHeaderString("index")`.
    return `${WGSL_MATH}\n${this.helpers}\n fn main(index : i32) {\n${this.body}\n}`;
  }
}

/**
 * Runs one dispatch of `program` writing into `output` (allocated with
 * {@linkcode allocate}), with the `i32` uniform values in the program's order.
 *
 * @example Fill a buffer
 * ```ts
 * import { tf } from "../../tf.ts";
 * const backend = webgpuBackend(); // null off webgpu
 * if (backend) {
 *   const out = toTensor(allocate(backend, 4)); // uninitialised until a program writes it
 *   const p = new StepProgram({
 *     key: "ones",
 *     inputs: [],
 *     uniforms: ["n"],
 *     outputSize: 4,
 *     count: 4,
 *     body: "if (index < uniforms.n) { result[index] = 1.0; }",
 *   });
 *   dispatch(backend, p, [], [4], out);
 *   console.log(await out.data());
 *   tf.dispose(out);
 * }
 * ```
 */
export function dispatch(
  backend: WebGpuBackendLike,
  program: StepProgram,
  inputs: Tensor[],
  uniforms: number[],
  output: TensorInfo,
): void {
  backend.runWebGPUProgram(
    program,
    inputs,
    "float32",
    uniforms.map((v) => ({ type: "int32" as const, data: [v] })),
    output,
  );
}

/**
 * A new, uninitialised float32 buffer of `size` elements (shape `[size]`), not yet a tensor.
 *
 * @example See dispatch
 * ```ts
 * const backend = webgpuBackend();
 * if (backend) toTensor(allocate(backend, 4)).dispose();
 * ```
 */
export function allocate(backend: WebGpuBackendLike, size: number): TensorInfo {
  return backend.makeTensorInfo([size], "float32");
}

/**
 * Wraps a buffer from {@linkcode allocate} as a tensor owned by the engine (and any tidy).
 *
 * @example See dispatch
 * ```ts
 * const backend = webgpuBackend();
 * if (backend) toTensor(allocate(backend, 4)).dispose();
 * ```
 */
export function toTensor(info: TensorInfo): Tensor1D {
  return tf.engine().makeTensorFromTensorInfo(info) as Tensor1D;
}

/**
 * The uniforms every step program reads: step `t`, and the sizes B, H, T.
 *
 * @example The step first
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(STEP_UNIFORMS[0], "t");
 * ```
 */
export const STEP_UNIFORMS: readonly string[] = ["t", "nb", "nh", "nt"];

/**
 * The opening of a one-unit-per-invocation step program (WGSL): the sizes
 * from {@linkcode STEP_UNIFORMS}, `BH = B * H`, threads past `B * H` return,
 * and this thread's batch row `b` and unit `j`.
 *
 * @example Every thread's row and unit
 * ```ts
 * import { ok } from "node:assert";
 * ok(UNIT_PRELUDE.includes("let j = index - b * H;"));
 * ```
 */
export const UNIT_PRELUDE = `
  let t = uniforms.t; let B = uniforms.nb; let H = uniforms.nh; let T = uniforms.nt;
  let BH = B * H;
  if (index >= BH) { return; }
  let b = index / H;
  let j = index - b * H;`;

/**
 * The opening of a step program with four adjacent units per invocation
 * (vec4 loads) for `R` batch rows (WGSL): the sizes, `H4 = H / 4`, threads
 * past the work return, the first row `b0` and the unit group `j4`.
 *
 * @param R batch rows per invocation (`B % R == 0`).
 *
 * @example Two rows per invocation
 * ```ts
 * import { ok } from "node:assert";
 * ok(vec4Prelude(2).includes("let b0 = bg * 2;"));
 * ```
 */
export function vec4Prelude(R: number): string {
  return `
  let t = uniforms.t; let B = uniforms.nb; let H = uniforms.nh; let T = uniforms.nt;
  let BH = B * H;
  let H4 = H / 4;
  if (index >= (B / ${R}) * H4) { return; }
  let bg = index / H4;
  let j4 = index - bg * H4;
  let b0 = bg * ${R};`;
}
