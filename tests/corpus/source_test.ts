import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";
import { UsageError } from "../../lib/errors.ts";
import { loadCorpus, type LoadCorpusOptions } from "../../lib/corpus/load.ts";
import { hexDigest, parseChecksum } from "../../lib/corpus/source.ts";

const TEXT = "The Time Traveller (for so it will be convenient to speak of him)\n" +
  "was expounding a recondite matter to us.\n";

/** A local server for the text; counts requests per path. */
function serve(): { base: string; requests: Map<string, number>; close: () => Promise<void> } {
  const requests = new Map<string, number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    requests.set(path, (requests.get(path) ?? 0) + 1);
    if (path === "/missing.txt") return new Response("no such thing", { status: 404 });
    return new Response(TEXT, { headers: { "content-type": "text/plain" } });
  });
  const { port } = server.addr as Deno.NetAddr;
  return { base: `http://127.0.0.1:${port}`, requests, close: () => server.shutdown() };
}

function cacheEntries(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

async function usageError(options: LoadCorpusOptions, message: RegExp): Promise<void> {
  await rejects(() => loadCorpus(options), (error: Error) => {
    ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
    ok(message.test(error.message), `${error.message} !~ ${message}`);
    return true;
  });
}

Deno.test("a URL is downloaded once into the cache, then reused with no request", async () => {
  const server = serve();
  const cacheDir = await Deno.makeTempDir();
  try {
    const url = `${server.base}/texts/tm.txt`;
    const first = await loadCorpus({ source: url, cacheDir, token: "word", validFraction: 0 });
    strictEqual(first.source, url);
    strictEqual(first.sourceInfo.fromCache, false);
    strictEqual(first.tokens, 20);
    strictEqual(first.vocab.decode(first.train.read(0, 3)), "the time traveller");
    first.close();
    strictEqual(server.requests.get("/texts/tm.txt"), 1);
    const entries = cacheEntries(cacheDir);
    strictEqual(entries.length, 1);
    ok(entries[0].endsWith("-tm.txt"), entries[0]);
    strictEqual(await Deno.readTextFile(`${cacheDir}/${entries[0]}`), TEXT);

    using second = await loadCorpus({ source: url, cacheDir, token: "word", validFraction: 0 });
    strictEqual(second.sourceInfo.fromCache, true);
    strictEqual(second.tokens, 20);
    strictEqual(server.requests.get("/texts/tm.txt"), 1, "the second load made no request");
  } finally {
    await server.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("a URL with the right SHA-256 or SHA-1 is cached; a mismatch caches nothing", async () => {
  const server = serve();
  const cacheDir = await Deno.makeTempDir();
  try {
    const url = `${server.base}/tm.txt`;
    const bad = "f".repeat(64);
    await usageError(
      { source: url, cacheDir, checksum: bad },
      new RegExp(
        `^Cannot download corpus "${url}": its SHA-256 is ${hexDigest("sha256", TEXT)}, ` +
          `expected ${bad}$`,
      ),
    );
    deepStrictEqual(cacheEntries(cacheDir), [], "nothing cached after a mismatch");
    await usageError({ source: url, cacheDir, checksum: "1".repeat(40) }, /its SHA-1 is/);
    deepStrictEqual(cacheEntries(cacheDir), []);

    for (const checksum of [hexDigest("sha256", TEXT), `SHA1:${hexDigest("sha1", TEXT)}`]) {
      using corpus = await loadCorpus({ source: url, cacheDir, checksum });
      strictEqual(corpus.sourceInfo.fromCache, false);
      using again = await loadCorpus({ source: url, cacheDir, checksum });
      strictEqual(again.sourceInfo.fromCache, true);
    }
    strictEqual(server.requests.get("/tm.txt"), 4); // 2 mismatches + 1 per checksum
    strictEqual(cacheEntries(cacheDir).length, 2);

    // A cache entry altered on disk fails its check and is dropped.
    const sha256 = hexDigest("sha256", TEXT);
    using corpus = await loadCorpus({ source: url, cacheDir, checksum: sha256 });
    const path = corpus.sourceInfo.path!;
    await Deno.writeTextFile(path, "tampered");
    await usageError({ source: url, cacheDir, checksum: sha256 }, /its SHA-256 is .*, expected/);
    strictEqual(cacheEntries(cacheDir).length, 1);
  } finally {
    await server.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("a 404, a broken download or an unreachable host caches nothing", async () => {
  const server = serve();
  const cacheDir = await Deno.makeTempDir();
  try {
    await usageError(
      { source: `${server.base}/missing.txt`, cacheDir },
      new RegExp(`^Cannot download corpus "${server.base}/missing.txt": HTTP 404 Not Found$`),
    );
    deepStrictEqual(cacheEntries(cacheDir), []);
    // A server that promises 100,000 bytes, sends a few and hangs up.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const hangUp = (async () => {
      const conn = await listener.accept();
      await conn.read(new Uint8Array(4096));
      const head = "HTTP/1.1 200 OK\r\ncontent-length: 100000\r\nconnection: close\r\n\r\n";
      await conn.write(new TextEncoder().encode(head + TEXT));
      conn.close();
    })();
    const { port } = listener.addr as Deno.NetAddr;
    await rejects(
      () => loadCorpus({ source: `http://127.0.0.1:${port}/broken.txt`, cacheDir }),
      /^Error: Cannot download corpus "http:\/\/127\.0\.0\.1:\d+\/broken\.txt": /,
    );
    await hangUp;
    listener.close();
    deepStrictEqual(cacheEntries(cacheDir), [], "no partial download left");
  } finally {
    await server.close();
  }
  try {
    // The server is gone: nothing listens on that port any more.
    await usageError({ source: `${server.base}/tm.txt`, cacheDir }, /^Cannot download corpus/);
    deepStrictEqual(cacheEntries(cacheDir), []);
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("parseChecksum accepts SHA-256 and SHA-1 hex only", () => {
  strictEqual(parseChecksum("A".repeat(64)).algorithm, "sha256");
  strictEqual(parseChecksum("sha1:" + "b".repeat(40)).hex, "b".repeat(40));
  for (
    const bad of ["", "xyz", "a".repeat(63), "sha1:" + "a".repeat(64), "md5:" + "a".repeat(32)]
  ) {
    try {
      parseChecksum(bad);
      ok(false, `accepted ${bad}`);
    } catch (error) {
      ok(error instanceof UsageError);
    }
  }
});
