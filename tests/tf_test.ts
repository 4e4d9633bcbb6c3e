import { ok, rejects, strictEqual } from "node:assert";
import { describeBackend, tf, useBackend } from "../lib/tf.ts";
import { UsageError } from "../lib/errors.ts";

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
  strictEqual(info.name, fallback ? "wasm" : "webgpu");
  await useBackend("cpu");
});

Deno.test("useBackend() rejects an unknown backend name with a UsageError", async () => {
  await rejects(() => useBackend("tpu"), (error: Error) => {
    ok(error instanceof UsageError);
    ok(error.message.includes('"tpu"'));
    ok(error.message.includes("auto, webgpu, wasm, cpu"));
    return true;
  });
});
