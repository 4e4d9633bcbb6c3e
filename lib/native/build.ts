/**
 * Compiles the native kernels (`kernels.c`, embedded in `_sources.ts`) with
 * the system C compiler on first use, caches the shared library per user and
 * loads it with `Deno.dlopen`.
 *
 * - Compiler: `$CC`, else `cc`, `gcc`, `clang`, at `-O3 -march=native`.
 * - Cache: `$RNN_DENO_NATIVE_CACHE`, else `$XDG_CACHE_HOME/rnn-deno/native`, else
 *   `~/.cache/rnn-deno/native`; the file name is the sha256 of the sources, the
 *   compiler's path and version, the flags and the CPU's model and flags.
 * - Each library has its sha256 beside it, checked before every load: a corrupt
 *   or truncated file is rebuilt (with one notice), never loaded.
 * - A build writes a temporary file in the cache directory and renames it into
 *   place, so two processes compiling at once each finish with a whole library.
 *
 * Why embedded sources: a module imported by URL gets its `.ts` imports from
 * the module graph with no permission, while reading a `.c` file beside it
 * would need `--allow-net` (or a local path). `kernels.c` stays the file to
 * edit; `tests/native/sources_test.ts` fails when the embedding is stale.
 *
 * Nothing here prints: every failure is a value with a one-line reason.
 *
 * @module
 */
import { KERNELS_C } from "./_sources.ts";

/**
 * The compiler flags: `-O3 -march=native` (AVX-512 where the CPU has it),
 * contracted multiply-adds, no errno from math functions, shared and
 * position-independent, with pthreads.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * ok(NATIVE_FLAGS.includes("-march=native"));
 * ```
 */
export const NATIVE_FLAGS: readonly string[] = [
  "-std=gnu11",
  "-O3",
  "-march=native",
  "-ffp-contract=fast",
  // sqrt() as one instruction: with errno to set it is a call, and Adam's loop stays scalar
  // (7x slower); nothing reads errno, and the results are the same (sqrt is correctly rounded).
  "-fno-math-errno",
  "-shared",
  "-fPIC",
  "-pthread",
  // Never unloaded: Deno closes a library with its isolate (each test module has
  // one), and unloading code that idle pool threads are waiting in would leave
  // them stale (a reload resets the pool's state under them: a hang).
  ...(Deno.build.os === "linux" ? ["-Wl,-z,nodelete"] : []),
];

/**
 * The C functions of `kernels.c`, as `Deno.dlopen` declares them.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert";
 * ok("rnn_gemm" in NATIVE_SYMBOLS && "rnn_seq_forward" in NATIVE_SYMBOLS);
 * ```
 */
export const NATIVE_SYMBOLS = {
  rnn_abi_version: { parameters: [], result: "i32" },
  rnn_set_threads: { parameters: ["i32"], result: "i32" },
  rnn_gemm: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "i32",
    ],
    result: "void",
  },
  rnn_work_size: { parameters: ["i32", "i32", "i32", "i32"], result: "i64" },
  rnn_seq_forward: {
    parameters: [
      ...["i32", "i32", "i32", "i32", "i32", "i32"],
      ...["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
      ...["i32", "buffer", "buffer"],
    ],
    result: "i32",
  },
  rnn_seq_backward: {
    parameters: [
      ...["i32", "i32", "i32", "i32", "i32", "i32"],
      ...["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
      ...["i32", "buffer", "buffer", "buffer"],
      ...["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
      "i32",
    ],
    result: "i32",
  },
  rnn_binary: {
    parameters: ["i32", "i64", "buffer", "i64", "buffer", "i64", "buffer"],
    result: "void",
  },
  rnn_binary_bcast: {
    parameters: ["i32", "i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "void",
  },
  rnn_transpose: { parameters: ["i32", "i32", "buffer", "buffer"], result: "void" },
  rnn_xent_forward: {
    parameters: ["i32", "i32", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  rnn_xent_backward: {
    parameters: ["i32", "i32", "f32", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  rnn_attn_forward: {
    parameters: [
      ...["i32", "i32", "i32", "i32", "i32"],
      ...["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    ],
    result: "void",
  },
  rnn_attn_backward: {
    parameters: [
      ...["i32", "i32", "i32", "i32", "i32"],
      ...["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
      ...["buffer", "buffer", "buffer", "buffer"],
    ],
    result: "i32",
  },
  rnn_sgd: { parameters: ["i64", "buffer", "buffer", "f32", "f32"], result: "void" },
  rnn_dropout_mask: { parameters: ["i64", "buffer", "f32", "buffer"], result: "void" },
  rnn_sum_squares: { parameters: ["i64", "buffer"], result: "f64" },
  rnn_core_probe: { parameters: ["i64", "buffer"], result: "i32" },
  rnn_adam: {
    parameters: [
      ...["i64", "buffer", "buffer", "buffer", "buffer"],
      ...["f64", "f64", "f64", "f64", "f32", "f32", "f32"],
    ],
    result: "void",
  },
} as const;

/** The loaded library's functions. */
export type NativeSymbols = Deno.DynamicLibrary<typeof NATIVE_SYMBOLS>["symbols"];

/** The ABI version `kernels.c` reports; a library that reports another is rebuilt. */
const ABI_VERSION = 7;

/** What {@linkcode loadNative} gives: the library, or why there is none. */
export type NativeLoad =
  | { ok: true; symbols: NativeSymbols; path: string; compiler: string; notices: string[] }
  | { ok: false; reason: string; notices: string[] };

/** Options of {@linkcode loadNative}. */
export interface LoadOptions {
  /** The cache directory. @default see the module doc */
  cacheDir?: string;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

function granted(name: "ffi" | "run"): boolean {
  try {
    return Deno.permissions.querySync({ name }).state === "granted";
  } catch {
    return false;
  }
}

/** The first compiler that answers `--version`: its name and the version's first line. */
function findCompiler(): { cc: string; version: string } | null {
  const fromEnv = env("CC");
  const candidates = fromEnv ? [fromEnv] : ["cc", "gcc", "clang"];
  for (const cc of candidates) {
    try {
      const out = new Deno.Command(cc, { args: ["--version"], stdout: "piped", stderr: "null" })
        .outputSync();
      if (out.success) {
        return { cc, version: new TextDecoder().decode(out.stdout).split("\n")[0].trim() };
      }
    } catch {
      // not found or not runnable: try the next
    }
  }
  return null;
}

/** The CPU's model and feature flags (Linux), else the architecture alone. */
function cpuKey(): string {
  try {
    const text = Deno.readTextFileSync("/proc/cpuinfo");
    const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, "m").exec(text)?.[1] ?? "";
    return `${field("model name")}|${field("flags")}`;
  } catch {
    return `${Deno.build.arch}-${Deno.build.os}`;
  }
}

async function sha256(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function defaultCacheDir(): string | null {
  const explicit = env("RNN_DENO_NATIVE_CACHE");
  if (explicit) return explicit;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/rnn-deno/native`;
  const home = env("HOME") ?? env("USERPROFILE");
  return home ? `${home}/.cache/rnn-deno/native` : null;
}

function firstLine(text: string): string {
  return text.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "";
}

/** Compiles the sources into `target` (a temporary file, then a rename); null or the error. */
async function compile(cc: string, target: string, dir: string): Promise<string | null> {
  const src = await Deno.makeTempFile({ dir, prefix: "kernels-", suffix: ".c" });
  const tmp = `${target}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.writeTextFile(src, KERNELS_C);
    const out = await new Deno.Command(cc, {
      args: [...NATIVE_FLAGS, "-o", tmp, src, "-lm"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      const text = new TextDecoder().decode(out.stderr);
      const error = text.split("\n").find((l) => /error/i.test(l)) ?? firstLine(text);
      return `${cc} failed (exit ${out.code}): ${error.trim() || "no message"}`;
    }
    const digest = await sha256(await Deno.readFile(tmp));
    await Deno.writeTextFile(`${tmp}.sha256`, digest);
    await Deno.rename(`${tmp}.sha256`, `${target}.sha256`);
    await Deno.rename(tmp, target);
    return null;
  } catch (error) {
    return `building the native kernels failed: ${firstLine(String(error))}`;
  } finally {
    await Deno.remove(src).catch(() => {});
    await Deno.remove(tmp).catch(() => {});
  }
}

/** Whether `path` exists and its sha256 is the one recorded beside it. */
async function verified(path: string): Promise<"ok" | "missing" | "corrupt"> {
  let bytes: Uint8Array, recorded: string;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    return "missing";
  }
  try {
    recorded = (await Deno.readTextFile(`${path}.sha256`)).trim();
  } catch {
    return "corrupt";
  }
  return (await sha256(bytes)) === recorded ? "ok" : "corrupt";
}

function open(path: string): NativeSymbols {
  const lib = Deno.dlopen(path, NATIVE_SYMBOLS);
  const abi = lib.symbols.rnn_abi_version();
  if (abi !== ABI_VERSION) {
    lib.close();
    throw new Error(`it reports ABI ${abi}, expected ${ABI_VERSION}`);
  }
  return lib.symbols;
}

/**
 * Builds (or finds in the cache) and loads the native kernels.
 *
 * @returns the library's symbols and the notices to show (a rebuilt cache),
 *   or `ok: false` with a one-line reason: no `--allow-ffi`/`--allow-run`, no
 *   compiler, a compile error, an unwritable cache.
 *
 * @example Load the kernels, or learn why not
 * ```ts
 * const load = await loadNative();
 * console.log(load.ok ? `native kernels from ${load.path}` : load.reason);
 * ```
 */
export async function loadNative(options: LoadOptions = {}): Promise<NativeLoad> {
  const notices: string[] = [];
  const fail = (reason: string): NativeLoad => ({ ok: false, reason, notices });
  if (!granted("ffi")) return fail("no --allow-ffi: native kernels need it (and --allow-run)");
  if (!granted("run")) {
    return fail("no --allow-run: the native kernels are built by the C compiler");
  }
  const compiler = findCompiler();
  if (!compiler) {
    const cc = env("CC");
    return fail(cc ? `no C compiler found ($CC=${cc} does not run)` : "no C compiler found");
  }
  const dir = options.cacheDir ?? defaultCacheDir();
  if (!dir) return fail("no cache directory for the native kernels (no $HOME)");
  const key = await sha256(
    [KERNELS_C, compiler.cc, compiler.version, NATIVE_FLAGS.join(" "), cpuKey()].join("\0"),
  );
  const ext = Deno.build.os === "darwin" ? "dylib" : Deno.build.os === "windows" ? "dll" : "so";
  const path = `${dir}/kernels-${key.slice(0, 32)}.${ext}`;
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (error) {
    return fail(`cannot create the native cache ${dir}: ${firstLine(String(error))}`);
  }
  const state = await verified(path);
  if (state === "ok") {
    try {
      return { ok: true, symbols: open(path), path, compiler: compiler.version, notices };
    } catch (error) {
      notices.push(
        `cached native library ${path} did not load (${firstLine(String(error))}): rebuilding`,
      );
    }
  } else if (state === "corrupt") {
    notices.push(`cached native library ${path} failed its checksum: rebuilding`);
  }
  const failed = await compile(compiler.cc, path, dir);
  if (failed) return fail(failed);
  try {
    return { ok: true, symbols: open(path), path, compiler: compiler.version, notices };
  } catch (error) {
    return fail(`the native library ${path} did not load: ${firstLine(String(error))}`);
  }
}
