import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert";
import { addAll, describeBackend, tf, useBackend } from "../lib/tf.ts";
import { globalNorm } from "../lib/training/train.ts";
import { UsageError } from "../lib/errors.ts";
import { NATIVE } from "./_native.ts";

Deno.test("useBackend() starts cpu and wasm by name", async () => {
  for (const name of ["cpu", "wasm"] as const) {
    const info = await useBackend(name);
    strictEqual(info.name, name);
    strictEqual(tf.getBackend(), name);
    const squares = await tf.tensor([1, 2, 3]).square().data();
    strictEqual(squares[2], 9);
  }
});

Deno.test("useBackend('webgpu') reports the adapter it found", async () => {
  const info = await useBackend("webgpu");
  strictEqual(info.name, "webgpu");
  ok(info.adapter && info.adapter.length > 0, "adapter description is reported");
  ok(describeBackend(info).startsWith("webgpu ("));
  await useBackend("cpu");
});

Deno.test("useBackend('auto') avoids a software-fallback adapter", async () => {
  const info = await useBackend("auto");
  const gpu = (navigator as { gpu?: GPU }).gpu;
  const adapter = gpu ? await gpu.requestAdapter() : null;
  const fallback = !adapter || (adapter.info as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  strictEqual(info.name, fallback ? (NATIVE.length > 0 ? "native" : "wasm") : "webgpu");
  await useBackend("cpu");
});

Deno.test("useBackend() rejects an unknown backend name with a UsageError", async () => {
  await rejects(() => useBackend("tpu"), (error: Error) => {
    ok(error instanceof UsageError);
    ok(error.message.includes('"tpu"'));
    ok(error.message.includes("auto, webgpu, native, wasm, cpu"));
    return true;
  });
});

/** Runs a script that calls `useBackend(request)` and prints what started, with `flags`. */
async function startIn(request: string, flags: string[]) {
  const dir = await Deno.makeTempDir({ prefix: "rnn_backend_" });
  try {
    const script = `${dir}/start.ts`;
    const lib = new URL("../lib/tf.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { useBackend } from "${lib}";\n` +
        `console.log(JSON.stringify(await useBackend("${request}")));\n`,
    );
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-lock", ...flags, script],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return { code, stdout: decode(stdout), stderr: decode(stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("useBackend('wasm'/'auto') without --allow-read: one error naming the permission, no cpu", async () => {
  for (const request of ["wasm", "auto"]) {
    const { code, stdout, stderr } = await startIn(request, ["--allow-env", "--allow-sys"]);
    strictEqual(code, 1, `${request}: the script fails\n${stderr}`);
    strictEqual(stdout, "", `${request}: nothing started (no silent cpu)`);
    const first = stderr.split("\n").find((line) => line.startsWith("error:")) ?? "";
    ok(
      first.includes('Cannot start backend "wasm": Deno denied read access to "') &&
        first.includes(".wasm") && first.endsWith("expected --allow-read (or -A)"),
      `${request}: ${stderr}`,
    );
    for (
      const noise of ["Aborted(", "failed to asynchronously prepare wasm", "Initialization of"]
    ) {
      ok(!stderr.includes(noise), `${request}: tfjs's own messages are held back: ${stderr}`);
    }
  }
});

Deno.test("useBackend('auto') with --allow-read starts wasm", async () => {
  const { code, stdout, stderr } = await startIn("auto", [
    "--allow-env",
    "--allow-sys",
    "--allow-read",
  ]);
  strictEqual(code, 0, stderr);
  strictEqual(JSON.parse(stdout).name, "wasm");
});

Deno.test("describeBackend() names a wasm failure that auto fell back from", () => {
  strictEqual(
    describeBackend({ name: "cpu", wasmFailure: "no SIMD" }),
    "cpu (wasm did not start: no SIMD)",
  );
});

for (const backend of ["cpu", ...NATIVE, "wasm", "webgpu"]) {
  Deno.test(`addAll() sums every tensor, nine of them too, on ${backend}`, async () => {
    await useBackend(backend);
    try {
      for (const n of [1, 2, 5, 9, 16]) {
        const scalars = Array.from({ length: n }, (_, i) => tf.scalar(i + 1));
        strictEqual((await addAll(scalars).data())[0], (n * (n + 1)) / 2, `${n} scalars`);
        const rows = Array.from({ length: n }, (_, i) => tf.fill([3], i + 1));
        deepStrictEqual(
          Array.from(await addAll(rows).data()),
          new Array(3).fill((n * (n + 1)) / 2),
        );
        tf.dispose([...scalars, ...rows]);
      }
      // The gradient norm every training step reads (tf.addN summed only four of them on webgpu).
      const grads = Object.fromEntries(
        Array.from({ length: 9 }, (_, i) => [`g${i}`, tf.fill([1], 2)]),
      );
      strictEqual((await globalNorm(grads).data())[0], 6); // sqrt(9 * 2²)
      throws(() => addAll([]), /no tensors to add/);
    } finally {
      await useBackend("cpu");
    }
  });
}

Deno.test("lib/ and scripts/ add tensors with addAll, never tf.addN (wrong on webgpu)", async () => {
  const offenders: string[] = [];
  for (const dir of ["lib", "scripts"]) {
    const walk = async (path: string): Promise<void> => {
      for await (const entry of Deno.readDir(path)) {
        const child = `${path}/${entry.name}`;
        if (entry.isDirectory) await walk(child);
        else if (
          entry.name.endsWith(".ts") && /\btf\.addN\(/.test(await Deno.readTextFile(child))
        ) {
          offenders.push(child);
        }
      }
    };
    await walk(new URL(`../${dir}`, import.meta.url).pathname);
  }
  deepStrictEqual(offenders, []);
});
