/**
 * Serves the repository's files read-only on 127.0.0.1, as a web host would
 * serve a published copy: what the tests that import `mod.ts` over HTTP use.
 */
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root directory. */
export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  ".ts": "application/typescript",
  ".js": "application/javascript",
  ".json": "application/json",
};

/** Serves the repository's files read-only; 404 for anything missing, 400 for `..`. */
export async function serveRepo(request: Request): Promise<Response> {
  const path = decodeURIComponent(new URL(request.url).pathname);
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("method not allowed", { status: 405 });
  }
  if (path.split("/").includes("..") || path.includes("\\") || path.includes("\0")) {
    return new Response("bad path", { status: 400 });
  }
  const file = join(REPO_ROOT, path);
  try {
    const info = await Deno.stat(file);
    if (!info.isFile) return new Response("not found", { status: 404 });
    const body = request.method === "HEAD" ? null : await Deno.readFile(file);
    const type = CONTENT_TYPES[extname(file)] ?? "application/octet-stream";
    return new Response(body, { headers: { "content-type": type } });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new Response("not found", { status: 404 });
    throw error;
  }
}

/** A running server of the repository: its origin (`http://127.0.0.1:PORT`) and host. */
export interface RepoServer extends AsyncDisposable {
  origin: string;
  host: string;
}

/** Starts {@linkcode serveRepo} on a free port; `await using` shuts it down. */
export function startRepoServer(): RepoServer {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, serveRepo);
  const host = `127.0.0.1:${server.addr.port}`;
  return {
    origin: `http://${host}`,
    host,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
