import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";
import { UsageError } from "../../lib/errors.ts";
import { loadCorpus, type LoadCorpusOptions } from "../../lib/corpus/load.ts";
import { tokenizeText } from "../../lib/corpus/tokenize.ts";
import { Vocab } from "../../lib/corpus/vocab.ts";
import type { TokenIds } from "../../lib/corpus/store.ts";

const TIME_MACHINE = new URL("../../data/timemachine.txt", import.meta.url).pathname;
const TIME_MACHINE_SHA1 = "090b5e7e70c295757f55df93cb0a180b9691891a";
const TIME_MACHINE_SHA256 = "8424dbd9532ac81f7e5f0b6add90e6952baea29158309d7d1bf3884f4e12c516";

function all(ids: TokenIds): number[] {
  return [...ids.read(0, ids.length)];
}

function streamOf(...parts: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return ReadableStream.from(parts.map((p) => typeof p === "string" ? enc.encode(p) : p));
}

async function usageError(options: LoadCorpusOptions, message: RegExp | string): Promise<void> {
  await rejects(() => loadCorpus(options), (error: Error) => {
    ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
    if (typeof message === "string") strictEqual(error.message, message);
    else ok(message.test(error.message), `${error.message} !~ ${message}`);
    return true;
  });
}

Deno.test("time machine, d2l chars: 170,580 tokens, 28 ids by frequency", async () => {
  using corpus = await loadCorpus({ source: TIME_MACHINE });
  strictEqual(corpus.tokens, 170580);
  strictEqual(corpus.vocab.size, 28);
  deepStrictEqual(corpus.vocab.tokens, ["<unk>", ..." etainoshrdlmucfwgypbvkxzjq"]);
  strictEqual(corpus.unknownTokens, 0);
  strictEqual(corpus.storage, "memory");
  strictEqual(corpus.source, TIME_MACHINE);
  strictEqual(corpus.bytes, 178979);
  // The last 10% is held out, contiguous.
  strictEqual(corpus.valid.length, 17058);
  strictEqual(corpus.train.length, 170580 - 17058);
  const text = tokenizeText(await Deno.readTextFile(TIME_MACHINE)).join("");
  strictEqual(corpus.vocab.decode(corpus.train.read(0, 40)), text.slice(0, 40));
  strictEqual(corpus.vocab.decode(all(corpus.valid)), text.slice(170580 - 17058));
  strictEqual(corpus.vocab.decode(corpus.train.read(153522 - 10, 10)), text.slice(153512, 153522));
});

Deno.test("time machine, d2l words: 32,775 tokens, 4,580 ids, the i and of a", async () => {
  using corpus = await loadCorpus({ source: TIME_MACHINE, token: "word", validFraction: 0 });
  strictEqual(corpus.tokens, 32775);
  strictEqual(corpus.vocab.size, 4580);
  deepStrictEqual(corpus.vocab.tokens.slice(0, 6), ["<unk>", "the", "i", "and", "of", "a"]);
  strictEqual(corpus.valid.length, 0);
  strictEqual(corpus.vocab.decode(corpus.train.read(0, 7)), "the time machine by h g wells");
  strictEqual(corpus.vocab.joiner, " ");
});

Deno.test("time machine, raw: every character and Python's str.split() words", async () => {
  using chars = await loadCorpus({ source: TIME_MACHINE, normalize: "raw", validFraction: 0 });
  strictEqual(chars.tokens, 178979);
  strictEqual(chars.vocab.size, 71);
  strictEqual(chars.vocab.decode(all(chars.train)), await Deno.readTextFile(TIME_MACHINE));
  using words = await loadCorpus({ source: TIME_MACHINE, token: "word", normalize: "raw" });
  strictEqual(words.tokens, 32306);
});

Deno.test("minFreq and reserved tokens through loadCorpus", async () => {
  using corpus = await loadCorpus({
    source: TIME_MACHINE,
    token: "word",
    minFreq: 10,
    reserved: ["<pad>", "<bos>"],
  });
  deepStrictEqual(corpus.vocab.tokens.slice(0, 5), ["<unk>", "<pad>", "<bos>", "the", "i"]);
  ok(corpus.vocab.size < 4580);
  // Words rarer than 10 are <unk>: their occurrences are counted.
  const ids = [...all(corpus.train), ...all(corpus.valid)];
  strictEqual(corpus.unknownTokens, ids.filter((id) => id === 0).length);
  ok(corpus.unknownTokens > 0);
});

Deno.test("an existing vocabulary encodes a new corpus; unseen tokens count as <unk>", async () => {
  const vocab = Vocab.build("the time machine", { token: "char" });
  using corpus = await loadCorpus({ source: streamOf("The Quick\nfox"), vocab, validFraction: 0 });
  strictEqual(corpus.vocab, vocab);
  // "the quickfox": q u c k f o x are not in the vocabulary.
  strictEqual(corpus.tokens, 12);
  strictEqual(corpus.unknownTokens, 6);
  strictEqual(corpus.vocab.decode(all(corpus.train)), "the <unk><unk>ic<unk><unk><unk><unk>");
  await usageError(
    { source: TIME_MACHINE, vocab, token: "word" },
    /word tokens and d2l normalisation: the vocabulary has char tokens/,
  );
});

Deno.test("a file-backed store (with a spilled first pass) equals the in-memory one", async () => {
  const tempDir = await Deno.makeTempDir();
  try {
    for (const token of ["char", "word"] as const) {
      using memory = await loadCorpus({ source: TIME_MACHINE, token, storage: "memory" });
      const file = await loadCorpus({
        source: TIME_MACHINE,
        token,
        storage: "file",
        memoryLimitBytes: 4096, // spool goes to a file after 4 KB
        tempDir,
      });
      strictEqual(file.storage, "file");
      deepStrictEqual(file.vocab.tokens, memory.vocab.tokens);
      deepStrictEqual(all(file.train), all(memory.train));
      deepStrictEqual(all(file.valid), all(memory.valid));
      deepStrictEqual([...file.train.read(1000, 50)], [...memory.train.read(1000, 50)]);
      const inside = [...Deno.readDirSync(tempDir)];
      strictEqual(inside.length, 1, "one temp directory while open");
      const files = [...Deno.readDirSync(`${tempDir}/${inside[0].name}`)].map((e) => e.name);
      deepStrictEqual(files, ["ids.bin"], "the spool is gone once the store is written");
      strictEqual(
        Deno.statSync(`${tempDir}/${inside[0].name}/ids.bin`).size,
        file.tokens * 2 ** (token === "char" ? 0 : 1),
      );
      file.close();
      file.close(); // twice is fine
      deepStrictEqual([...Deno.readDirSync(tempDir)], [], "close() removes the temp files");
    }
    // auto picks a file when the encoded corpus is over the memory limit.
    using auto = await loadCorpus({ source: TIME_MACHINE, memoryLimitBytes: 100000, tempDir });
    strictEqual(auto.storage, "file");
  } finally {
    await Deno.remove(tempDir, { recursive: true });
  }
});

Deno.test("a local checksum is verified while reading", async () => {
  using a = await loadCorpus({ source: TIME_MACHINE, checksum: TIME_MACHINE_SHA1 });
  strictEqual(a.tokens, 170580);
  using b = await loadCorpus({ source: TIME_MACHINE, checksum: `sha256:${TIME_MACHINE_SHA256}` });
  strictEqual(b.tokens, 170580);
  await usageError(
    { source: TIME_MACHINE, checksum: "0".repeat(40) },
    `Cannot load corpus "${TIME_MACHINE}": its SHA-1 is ${TIME_MACHINE_SHA1}, expected ${
      "0".repeat(40)
    }`,
  );
  await usageError({ source: TIME_MACHINE, checksum: "abc" }, /Cannot use checksum "abc"/);
});

Deno.test("a byte stream source, chunks split anywhere", async () => {
  const bytes = new TextEncoder().encode("Héllo, wörld!\r\nSecond line.\n");
  const parts = Array.from(bytes, (b) => new Uint8Array([b])); // one byte per chunk
  using corpus = await loadCorpus({
    source: ReadableStream.from(parts),
    sourceName: "bytes",
    normalize: "raw",
    validFraction: 0,
  });
  strictEqual(corpus.source, "bytes");
  strictEqual(corpus.vocab.decode(all(corpus.train)), "Héllo, wörld!\r\nSecond line.\n");
});

Deno.test("stdin ('-') is read once, in a child process", async () => {
  const load = new URL("../../lib/corpus/load.ts", import.meta.url).href;
  const script = `
    const { loadCorpus } = await import(${JSON.stringify(load)});
    const c = await loadCorpus({ source: "-", token: "word", validFraction: 0 });
    console.log(JSON.stringify({ source: c.source, tokens: c.tokens, vocab: c.vocab.tokens }));
    c.close();`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("the cat and\nthe hat"));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  strictEqual(code, 0, new TextDecoder().decode(stderr));
  deepStrictEqual(JSON.parse(new TextDecoder().decode(stdout)), {
    source: "stdin",
    tokens: 5,
    vocab: ["<unk>", "the", "cat", "and", "hat"],
  });
});

Deno.test("bad input: missing file, directory, empty corpus, bad options", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await usageError(
      { source: `${dir}/nope.txt` },
      `Cannot read corpus "${dir}/nope.txt": no such file`,
    );
    await usageError({ source: dir }, `Cannot read corpus "${dir}": it is a directory, not a file`);
    await Deno.writeTextFile(`${dir}/empty.txt`, "");
    await usageError(
      { source: `${dir}/empty.txt` },
      `Cannot load corpus "${dir}/empty.txt": it has no char tokens after d2l normalisation (0 bytes read)`,
    );
    await Deno.writeTextFile(`${dir}/digits.txt`, "1234 -- 5678\n\n!!!\n");
    await usageError(
      { source: `${dir}/digits.txt`, token: "word" },
      /has no word tokens after d2l/,
    );
    await usageError(
      { source: streamOf(" \n\t "), token: "word", normalize: "raw" },
      /"stream": it has no word tokens/,
    );
    await usageError({ source: "" }, /no source given/);
    await usageError({ source: "ftp://example.com/x.txt" }, /only local paths, http\(s\) URLs/);
    await usageError(
      { source: TIME_MACHINE, validFraction: 1 },
      /validFraction 1 is not in \[0, 1\)/,
    );
    await usageError({ source: TIME_MACHINE, validFraction: -0.1 }, /validFraction -0.1/);
    await usageError({ source: TIME_MACHINE, token: "byte" as "char" }, /token "byte"/);
    await usageError({ source: TIME_MACHINE, normalize: "nfc" as "raw" }, /normalize "nfc"/);
    await usageError({ source: TIME_MACHINE, minFreq: -2 }, /minFreq -2/);
    deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "digits.txt",
      "empty.txt",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("non-UTF-8 bytes: the message names the source, byte offset and line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A file of several read chunks, with the bad byte far in (line found by re-reading).
    const line = "the time traveller smiled\n"; // 26 bytes
    const lines = 100000;
    const good = new TextEncoder().encode(line.repeat(lines));
    const bytes = new Uint8Array(good.length + 4);
    bytes.set(good);
    bytes.set([0x61, 0xc0, 0x80, 0x0a], good.length); // C0 is never valid (overlong)
    await Deno.writeFile(`${dir}/bad.txt`, bytes);
    const offset = good.length + 1;
    await usageError(
      { source: `${dir}/bad.txt`, tempDir: dir, memoryLimitBytes: 1 << 16 },
      `Cannot decode corpus "${dir}/bad.txt": invalid UTF-8 at byte offset ${offset} (line ${
        lines + 1
      })`,
    );
    // A stream (lines counted on the fly), bad sequence split over chunks.
    await usageError(
      {
        source: streamOf(
          "ok\nstill ok é\n",
          new Uint8Array([0x41, 0xe2, 0x82]),
          new Uint8Array([0x41]),
        ),
      },
      'Cannot decode corpus "stream": invalid UTF-8 at byte offset 16 (line 3)',
    );
    // Ends inside a character.
    await usageError(
      { source: streamOf("abc", new Uint8Array([0xf0, 0x9f, 0x98])), sourceName: "cut" },
      'Cannot decode corpus "cut": invalid UTF-8 at byte offset 3 (line 1)',
    );
    deepStrictEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name),
      ["bad.txt"],
      "no temp files left",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
