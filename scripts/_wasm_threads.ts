/**
 * An experiment of `deno task bench --wasm-threads N`: tfjs-backend-wasm's
 * threaded build, made to start under Deno.
 *
 * @module
 */

import { tf, tfWasm } from "../lib/tf.ts";
import { UsageError } from "../lib/errors.ts";

// ---- experiment: tfjs-wasm's threaded build under Deno ------------------------------------

/**
 * Starts tfjs-backend-wasm's threaded SIMD build with `threads` threads. An
 * experiment (`--wasm-threads`), not something the library does: tfjs
 * disables threads when IS_NODE (which Deno's Node compatibility sets), and
 * forcing them on meets three incompatibilities, worked around here while the
 * backend starts:
 * 1. the pthread worker script is handed to node:worker_threads as a `blob:`
 *    URL (ERR_WORKER_PATH): Blob and URL.createObjectURL are wrapped so the
 *    script is written to a temporary `.cjs` file instead, with the names the
 *    bundled factory expects from its module scope (require$$0.., tslib helpers);
 * 2. the worker assigns `location` on Deno's worker global (getter only):
 *    those properties are defined instead;
 * 3. tfjs caps threads at emscripten_num_logical_cores()/2 = os.cpus()/2,
 *    i.e. one on a 2-core machine: os.cpus() reports twice the cores meanwhile.
 */
export async function startThreadedWasm(threads: number): Promise<void> {
  const wasmBackend = tfWasm;
  const os = (await import("node:os")).default as { cpus: () => unknown[] };
  const dir = await Deno.makeTempDir({ prefix: "tfjs-wasm-threads-" });
  const texts = new WeakMap<object, string>();
  let mainScript = "";
  const OrigBlob = globalThis.Blob;
  class RecordingBlob extends OrigBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (parts?.every((p) => typeof p === "string")) {
        const text = (parts as string[]).join("");
        texts.set(this, text);
        if (text.startsWith("var WasmBackendModuleThreadedSimd")) mainScript = text;
      }
    }
  }
  const prelude = [
    'var require$$0 = require("fs"), require$$1 = require("path"), require$$3 = require("perf_hooks"), require$$4 = require("os");',
    "var commonjsGlobal = globalThis, _scriptDir = __filename;",
    "function __values(o){var s=typeof Symbol==='function'&&Symbol.iterator,m=s&&o[s],i=0;if(m)return m.call(o);if(o&&typeof o.length==='number')return{next:function(){if(o&&i>=o.length)o=void 0;return{value:o&&o[i++],done:!o}}};throw new TypeError('not iterable')}",
    "function __read(o,n){var m=typeof Symbol==='function'&&o[Symbol.iterator];if(!m)return o;var i=m.call(o),r,ar=[],e;try{while((n===void 0||n-->0)&&!(r=i.next()).done)ar.push(r.value)}catch(error){e={error:error}}finally{try{if(r&&!r.done&&(m=i['return']))m.call(i)}finally{if(e)throw e.error}}return ar}",
    "function __spreadArray(to,from,pack){if(pack||arguments.length===2)for(var i=0,l=from.length,ar;i<l;i++){if(ar||!(i in from)){if(!ar)ar=Array.prototype.slice.call(from,0,i);ar[i]=from[i]}}return to.concat(ar||Array.prototype.slice.call(from))}",
    "function __assignAll(t,src){for(var k of Object.keys(src)){try{Object.defineProperty(t,k,{value:src[k],writable:true,configurable:true})}catch(e){}}}",
    "Object.assign(globalThis,{require$$0,require$$1,require$$3,require$$4,commonjsGlobal,_scriptDir,__values,__read,__spreadArray});",
  ].join("\n");
  const origCreate = URL.createObjectURL, origCpus = os.cpus;
  URL.createObjectURL = (obj: Blob) => {
    const text = texts.get(obj);
    if (text === undefined) return origCreate(obj);
    const main = `${dir}/main.cjs`, worker = `${dir}/worker.cjs`;
    Deno.writeTextFileSync(main, mainScript);
    const patched = text
      .replace(
        'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}',
        `if(true){importScripts(${JSON.stringify(main)})}`,
      )
      .replace("Object.assign(global,{", "__assignAll(global,{");
    Deno.writeTextFileSync(worker, prelude + "\n" + patched);
    return worker;
  };
  (globalThis as { Blob: typeof Blob }).Blob = RecordingBlob;
  os.cpus = () => [...origCpus(), ...origCpus()];
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  wasmBackend.setThreadsCount(threads);
  try {
    if (!(await tf.setBackend("wasm"))) {
      throw new UsageError("Cannot start the threaded wasm build");
    }
    await tf.ready();
  } finally {
    globalThis.Blob = OrigBlob;
    URL.createObjectURL = origCreate;
    os.cpus = origCpus;
  }
}
