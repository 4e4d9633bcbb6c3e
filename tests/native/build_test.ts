/**
 * The native library's build and every way it can fail: each is one line and
 * a fallback (or a clear error), never a crash. Also the C harness under
 * AddressSanitizer and UBSan, with its negative proof. Tests that need a C
 * compiler are skipped (ignored) where there is none.
 */
import { ok, strictEqual } from "node:assert";
import { loadNative } from "../../lib/native/build.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const HAVE_CC = (await loadNative()).ok;

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const { code, stdout, stderr } = await new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

/** A script that starts `request` the way the task scripts do, printing the backend's name. */
async function startScript(request: string): Promise<string> {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  const backend = new URL("../../scripts/_backend.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { startBackend } from "${backend}";\n` +
      `console.log((await startBackend("${request}", 1)).name);\n`,
  );
  return script;
}

Deno.test("auto without a C compiler: wasm, and one stderr line that says why", async () => {
  const script = await startScript("auto");
  const cache = await Deno.makeTempDir();
  try {
    const { code, stdout, stderr } = await run(Deno.execPath(), ["run", "-A", script], {
      CC: "/nonexistent/cc",
      PATH: "/nonexistent",
      RNN_DENO_NATIVE_CACHE: cache,
    });
    strictEqual(code, 0, stderr);
    strictEqual(stdout.trim(), "wasm");
    const lines = stderr.trim().split("\n");
    strictEqual(lines.length, 1, stderr);
    ok(lines[0].includes("no C compiler found"), lines[0]);
    ok(lines[0].includes("using wasm, about 4x slower; install gcc or clang"), lines[0]);
  } finally {
    await Deno.remove(script);
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("--backend native without a compiler or without --allow-ffi: one clear error", async () => {
  const script = await startScript("native");
  try {
    const none = await run(Deno.execPath(), ["run", "-A", script], {
      CC: "/nonexistent/cc",
      PATH: "/nonexistent",
    });
    ok(none.code !== 0 && none.stdout === "", none.stderr);
    ok(none.stderr.includes('Cannot start backend "native": no C compiler found'), none.stderr);
    const noFfi = await run(Deno.execPath(), [
      "run",
      "--allow-read",
      "--allow-env",
      "--allow-sys",
      "--allow-run",
      script,
    ]);
    ok(noFfi.code !== 0, noFfi.stderr);
    ok(noFfi.stderr.includes("no --allow-ffi"), noFfi.stderr);
  } finally {
    await Deno.remove(script);
  }
});

Deno.test({
  name: "a corrupt cached library is rebuilt, with one notice, and then loads",
  ignore: !HAVE_CC,
  fn: async () => {
    const cache = await Deno.makeTempDir();
    try {
      const first = await loadNative({ cacheDir: cache });
      ok(first.ok && first.notices.length === 0);
      const path = (first as { path: string }).path;
      const bytes = await Deno.readFile(path);
      bytes[bytes.length >> 1] ^= 0xff;
      // A new file renamed over it: this process has the library mapped, and
      // writing into a mapped library would change its running code.
      await Deno.writeFile(`${path}.corrupt`, bytes);
      await Deno.rename(`${path}.corrupt`, path);
      const second = await loadNative({ cacheDir: cache });
      ok(second.ok, second.ok ? "" : second.reason);
      strictEqual(second.notices.length, 1);
      ok(second.notices[0].includes("failed its checksum: rebuilding"), second.notices[0]);
      const third = await loadNative({ cacheDir: cache });
      ok(third.ok && third.notices.length === 0, "the rebuilt library verifies");
      const leftovers = [...Deno.readDirSync(cache)].filter((e) => e.name.includes(".tmp-"));
      strictEqual(leftovers.length, 0, "no temporary files left behind");
    } finally {
      await Deno.remove(cache, { recursive: true });
    }
  },
});

Deno.test({
  name: "two processes building at once both load a whole library",
  ignore: !HAVE_CC,
  fn: async () => {
    const cache = await Deno.makeTempDir();
    const script = await Deno.makeTempFile({ suffix: ".ts" });
    const build = new URL("../../lib/native/build.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { loadNative } from "${build}";\n` +
        `const l = await loadNative(); console.log(l.ok ? l.symbols.rnn_abi_version() : l.reason);\n`,
    );
    try {
      const env = { RNN_DENO_NATIVE_CACHE: cache };
      const results = await Promise.all(
        [0, 1].map(() => run(Deno.execPath(), ["run", "-A", script], env)),
      );
      for (const r of results) strictEqual(r.stdout.trim(), "7", r.stderr); // kernels.c's rnn_abi_version()
    } finally {
      await Deno.remove(script);
      await Deno.remove(cache, { recursive: true });
    }
  },
});

/** Builds tests/native/harness.c with the sanitizers (and `extra` flags) and runs it. */
async function harness(extra: string[]) {
  const exe = await Deno.makeTempFile();
  try {
    const cc = Deno.env.get("CC") || "cc";
    const built = await run(cc, [
      ...["-std=gnu11", "-O1", "-g", "-march=native", "-pthread"],
      ...["-fsanitize=address,undefined", "-fno-sanitize-recover=all", ...extra],
      ...["-o", exe, "tests/native/harness.c", "-lm"],
    ]);
    strictEqual(built.code, 0, built.stderr);
    return await run(exe, [], { ASAN_OPTIONS: "detect_leaks=1" });
  } finally {
    await Deno.remove(exe);
  }
}

Deno.test({
  name: "the C harness passes under AddressSanitizer and UBSan",
  ignore: !HAVE_CC,
  fn: async () => {
    const { code, stdout, stderr } = await harness([]);
    strictEqual(code, 0, stdout + stderr);
    ok(stdout.includes("harness: ok"), stdout);
  },
});

Deno.test({
  name: "the C harness fails on an out-of-bounds write (negative proof)",
  ignore: !HAVE_CC,
  fn: async () => {
    const { code, stderr } = await harness(["-DHARNESS_OOB"]);
    ok(code !== 0, "the sanitizers stop the run");
    ok(/AddressSanitizer|runtime error/.test(stderr), stderr);
  },
});
