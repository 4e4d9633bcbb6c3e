/**
 * How every script starts its backend: `--backend` and `--threads`, then one
 * stderr line when `auto` chose (which backend, and why not native), and one
 * per notice (a rebuilt native cache). lib/ decides and reports; this prints.
 *
 * @module
 */
import { type BackendInfo, useBackend } from "../lib/tf.ts";
// Registers the native backend's starter (useBackend("native"), auto).
import "../lib/native/backend.ts";

/** The one line `auto` prints: what it chose and why. */
export function autoLine(info: BackendInfo): string {
  if (info.name === "webgpu") return `backend auto: webgpu (${info.adapter ?? "a real GPU"})`;
  if (info.name === "native") {
    return `backend auto: native (C kernels, ${info.threads ?? 1} threads; no real GPU)`;
  }
  const why = info.nativeFailure ?? "native did not start";
  const hint = /compiler/.test(why)
    ? "install gcc or clang for native kernels"
    : /allow-(ffi|run)/.test(why)
    ? "run with --allow-ffi --allow-run for native kernels"
    : "see the reason";
  return `backend auto: ${why}: using ${info.name}, about 4x slower; ${hint}`;
}

/**
 * Starts `request` with `threads` native threads (0: the cores available),
 * printing the auto line and any notices on stderr.
 */
export async function startBackend(request: string, threads = 0): Promise<BackendInfo> {
  const info = await useBackend(request, threads > 0 ? { threads } : {});
  for (const notice of info.notices ?? []) console.error(`notice: ${notice}`);
  if (request === "auto") console.error(autoLine(info));
  return info;
}
