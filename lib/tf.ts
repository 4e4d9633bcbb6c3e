/**
 * The one place that pins TensorFlow.js. Every other file imports `tf` from
 * here, so the versions below are the only ones to change, and `mod.ts` works
 * when imported by URL from a directory with no deno.json of its own.
 *
 * @module
 */
// The whole `@tensorflow/tfjs` bundle, not tfjs-core alone: only the bundle
// registers every op's gradient and the chained ops (`x.square()`); tfjs-core's
// own ESM files for those use extensionless imports that Deno cannot load.
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// Side-effect imports: each registers its backend with the engine above.
import "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
/** tfjs-backend-wasm's module (setThreadsCount, setWasmPaths), pinned here with the rest. */
export * as tfWasm from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
import { UsageError } from "./errors.ts";

export { tf };

/** A backend name a user may ask for; `auto` picks the best that starts. */
export type BackendRequest = "auto" | "webgpu" | "native" | "wasm" | "cpu";

/** The backends that can actually run. */
export type BackendName = Exclude<BackendRequest, "auto">;

/** The backend names accepted by {@linkcode useBackend}, in order of preference. */
export const BACKEND_REQUESTS: readonly BackendRequest[] = [
  "auto",
  "webgpu",
  "native",
  "wasm",
  "cpu",
];

/** Options of {@linkcode useBackend}. */
export interface UseBackendOptions {
  /**
   * Threads of the native backend's kernels (the other backends ignore it).
   * @default the cores available (`navigator.hardwareConcurrency`)
   */
  threads?: number;
}

/**
 * How a backend that lives above this module (the native one, `lib/native/`)
 * starts: it registers itself here when loaded, so this module imports nothing
 * above it. Returns the threads in use and any notices (a rebuilt cache), or
 * throws an Error whose message is the one-line reason it cannot start.
 */
export type BackendStarter = (
  options: UseBackendOptions,
) => Promise<{ threads: number; notices: string[] }>;

const starters = new Map<string, BackendStarter>();

/**
 * Registers how to start a backend defined outside this module (`native`).
 *
 * @example A starter that always refuses
 * ```ts
 * registerBackendStarter("native", () => Promise.reject(new Error("not here")));
 * ```
 */
export function registerBackendStarter(name: "native", starter: BackendStarter): void {
  starters.set(name, starter);
}

/** What started: reported with every metric so numbers can be compared. */
export interface BackendInfo {
  /** The tfjs backend now active. */
  name: BackendName;
  /** The WebGPU adapter's description, when the backend is webgpu. */
  adapter?: string;
  /** Whether that adapter is a software fallback (llvmpipe and the like). */
  fallbackAdapter?: boolean;
  /** The native kernels' threads, when the backend is native. */
  threads?: number;
  /**
   * Set when `auto` tried native (no real GPU) and it could not start: why, in
   * one line (no compiler, no `--allow-ffi`, ...). Scripts print it.
   */
  nativeFailure?: string;
  /** Things worth one line each that did not stop the backend (a rebuilt native cache). */
  notices?: string[];
  /**
   * Set when `auto` wanted wasm but wasm could not start and cpu runs instead:
   * why wasm failed, in one line. {@linkcode describeBackend} shows it.
   */
  wasmFailure?: string;
}

/** A description of the WebGPU adapter this process can see, or null if none. */
export interface AdapterProbe {
  /** The adapter's description (vendor and device). */
  description: string;
  /** True for a software adapter (llvmpipe, SwiftShader). */
  isFallbackAdapter: boolean;
}

/**
 * Asks the runtime for a WebGPU adapter without starting a backend.
 *
 * @returns the adapter's description and whether it is a software fallback,
 *   or `null` when the runtime has no WebGPU or no adapter.
 *
 * @example Probe for a GPU
 * ```ts
 * const probe = await probeWebGpu();
 * console.log(probe === null ? "no adapter" : probe.description);
 * ```
 */
export async function probeWebGpu(): Promise<AdapterProbe | null> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) return null;
  const adapter = await gpu.requestAdapter();
  if (!adapter) return null;
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const description = info.description || [info.vendor, info.architecture, info.device]
    .filter(Boolean).join(" ") ||
    "unknown adapter";
  const isFallbackAdapter = Boolean(
    info.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
  );
  return { description, isFallbackAdapter };
}

/**
 * Starts a tfjs backend and makes it the active one.
 *
 * `auto` picks webgpu when the runtime offers a real (non-fallback) adapter,
 * else native (C kernels built by the system compiler: needs a compiler,
 * `--allow-ffi` and `--allow-run`, and `lib/native/backend.ts` loaded, which
 * `mod.ts` and every model module do; why it did not start is kept in
 * {@linkcode BackendInfo.nativeFailure}), else wasm, else cpu. A named backend that cannot start is an error that says
 * what was found, never a silent switch to another backend. A missing Deno
 * permission (wasm reads its `.wasm` file, so it needs `--allow-read`) is
 * always an error, for `auto` too, naming the permission and the path; any
 * other wasm failure under `auto` falls back to cpu with the reason in
 * {@linkcode BackendInfo.wasmFailure}. Whatever tfjs prints while a backend
 * fails to start is kept out of the terminal and summed up in that one line.
 *
 * @param request the backend to start (`auto`, `webgpu`, `native`, `wasm` or `cpu`).
 * @param options the native kernels' threads.
 * @returns what started, with the adapter for webgpu.
 * @throws {UsageError} for an unknown name or a backend that cannot start.
 *
 * @example Start the cpu backend
 * ```ts
 * import { strictEqual } from "node:assert";
 * const info = await useBackend("cpu");
 * strictEqual(info.name, "cpu");
 * ```
 */
export async function useBackend(
  request: string,
  options: UseBackendOptions = {},
): Promise<BackendInfo> {
  if (!(BACKEND_REQUESTS as readonly string[]).includes(request)) {
    throw new UsageError(
      `Cannot start backend "${request}": expected one of ${BACKEND_REQUESTS.join(", ")}`,
    );
  }
  if (request === "auto") {
    const probe = await probeWebGpu();
    if (probe && !probe.isFallbackAdapter) return await start("webgpu", probe);
    let nativeFailure: string;
    try {
      return await startNative(options);
    } catch (error) {
      nativeFailure = (error as Error).message.replace(/^Cannot start backend "native": /, "");
    }
    try {
      return { ...await start("wasm", null), nativeFailure };
    } catch (error) {
      if (error instanceof PermissionMissing) throw error;
      const info = await start("cpu", null);
      info.wasmFailure = (error as Error).message;
      return { ...info, nativeFailure };
    }
  }
  if (request === "native") return await startNative(options);
  const name = request as BackendName;
  const probe = name === "webgpu" ? await probeWebGpu() : null;
  if (name === "webgpu" && probe === null) {
    throw new UsageError(
      'Cannot start backend "webgpu": this runtime offers no WebGPU adapter ' +
        "(navigator.gpu is missing or requestAdapter() returned null)",
    );
  }
  return await start(name, probe);
}

/** Starts the native backend through its registered starter. */
async function startNative(options: UseBackendOptions): Promise<BackendInfo> {
  const starter = starters.get("native");
  if (!starter) {
    throw new UsageError(
      'Cannot start backend "native": its module is not loaded (import mod.ts or lib/native/backend.ts)',
    );
  }
  let started: { threads: number; notices: string[] };
  try {
    started = await starter(options);
  } catch (error) {
    throw new UsageError(`Cannot start backend "native": ${(error as Error).message}`);
  }
  const info = await start("native", null);
  return { ...info, threads: started.threads, notices: started.notices };
}

async function start(name: BackendName, probe: AdapterProbe | null): Promise<BackendInfo> {
  let ok = false;
  // tfjs's cpu backend prints a "you are running in Node.js" banner on its
  // first write under IS_NODE (which Deno's Node compatibility sets); lib/ prints
  // nothing, so the flag is off while that one backend starts. The wasm
  // backend needs the flag on to load its .wasm file from the npm cache.
  const isNode = tf.env().getBool("IS_NODE");
  const cpuBased = name === "cpu" || name === "native";
  if (cpuBased) tf.env().set("IS_NODE", false);
  // A failing backend (wasm without --allow-read) prints a screen of
  // Emscripten and tfjs messages: hold them, and say what went wrong once.
  const printed = holdConsole();
  let thrown: unknown;
  try {
    ok = await tf.setBackend(name);
    await tf.ready();
    // The banner comes on the cpu backend's first tensor write, so make one now.
    if (cpuBased && ok) tf.scalar(0).dispose();
  } catch (error) {
    thrown = error;
  } finally {
    printed.release();
    tf.env().set("IS_NODE", isNode);
  }
  const failed = thrown !== undefined || !ok || tf.getBackend() !== name;
  if (failed) {
    const texts = [...(thrown === undefined ? [] : [String(thrown)]), ...printed.lines];
    const denied = texts.map((t) => DENIED.exec(t)).find((m) => m !== null);
    if (denied) {
      const [, kind, path] = denied;
      throw new PermissionMissing(
        `Cannot start backend "${name}": Deno denied ${kind} access to "${path}", ` +
          `expected --allow-${kind} (or -A)`,
      );
    }
    const reason = thrown !== undefined
      ? (thrown as Error).message ?? String(thrown)
      : printed.lines.find((l) => l.trim() !== "") ?? "tfjs refused it";
    throw new UsageError(
      `Cannot start backend "${name}": ${reason.split("\n")[0]}` + describeProbe(probe),
    );
  }
  const info: BackendInfo = { name };
  if (name === "webgpu" && probe) {
    info.adapter = probe.description;
    info.fallbackAdapter = probe.isFallbackAdapter;
  }
  return info;
}

/** A missing Deno permission: never a reason to fall back to another backend. */
class PermissionMissing extends UsageError {}

/** Deno's NotCapable message, e.g. `Requires read access to "/x.wasm"`. */
const DENIED = /Requires (read|write|net|env|sys|run|ffi|import) access to "?([^",]+?)"?,/;

/** Replaces the console while a backend starts; `release` restores it. */
function holdConsole(): { lines: string[]; release(): void } {
  const methods = ["log", "info", "warn", "error", "debug"] as const;
  const saved = methods.map((m) => console[m]);
  const lines: string[] = [];
  for (const m of methods) console[m] = (...args: unknown[]) => void lines.push(args.join(" "));
  return { lines, release: () => methods.forEach((m, i) => console[m] = saved[i]) };
}

function describeProbe(probe: AdapterProbe | null): string {
  if (!probe) return "";
  return ` (adapter "${probe.description}", fallback: ${probe.isFallbackAdapter})`;
}

/**
 * Describes a backend in one line, for progress output and metrics.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * strictEqual(describeBackend({ name: "wasm" }), "wasm");
 * ```
 */
export function describeBackend(info: BackendInfo): string {
  if (info.wasmFailure) return `${info.name} (wasm did not start: ${info.wasmFailure})`;
  if (info.name !== "webgpu" || !info.adapter) return info.name;
  return `webgpu (${info.adapter}${info.fallbackAdapter ? ", software fallback" : ""})`;
}

// tfjs would otherwise make webgpu, the highest-priority backend, active on
// first use, and webgpu needs an async start: a script that forgot
// `useBackend` would fail at its first tensor. Start on cpu, which is always
// there; `useBackend` switches.
await start("cpu", null);

/**
 * The elementwise sum of tensors of one shape, added in pairs: what `tf.addN`
 * gives, on every backend. tfjs-backend-webgpu 4.22's `AddN` sums only the
 * first four of more inputs (`tf.addN` of the scalars 1..9 gives 10 on Deno's
 * llvmpipe adapter), so the project adds with this instead.
 *
 * @throws {Error} for an empty list.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert";
 * const total = addAll(Array.from({ length: 9 }, (_, i) => tf.scalar(i + 1)));
 * strictEqual((await total.data())[0], 45);
 * ```
 */
export function addAll<T extends tf.Tensor>(tensors: readonly T[]): T {
  if (tensors.length === 0) throw new Error("addAll: no tensors to add");
  return tf.tidy(() => {
    let level: tf.Tensor[] = [...tensors];
    while (level.length > 1) {
      const next: tf.Tensor[] = [];
      for (let i = 0; i < level.length; i += 2) {
        next.push(i + 1 < level.length ? tf.add(level[i], level[i + 1]) : level[i]);
      }
      level = next;
    }
    return tf.clone(level[0]);
  }) as T;
}
