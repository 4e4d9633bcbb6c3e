import { deepStrictEqual, rejects } from "node:assert";
import { UsageError } from "../../lib/errors.ts";
import { Rng } from "../../lib/rng.ts";
import { Utf8StreamDecoder } from "../../lib/corpus/utf8.ts";
import {
  createTokenizer,
  type Normalization,
  tokenizeText,
  type TokenKind,
} from "../../lib/corpus/tokenize.ts";

const MODES: [TokenKind, Normalization][] = [
  ["char", "d2l"],
  ["word", "d2l"],
  ["char", "raw"],
  ["word", "raw"],
];

/** Runs the streaming tokenizer over `bytes` cut at the given sizes. */
async function streamTokens(
  bytes: Uint8Array,
  cuts: number[],
  token: TokenKind,
  normalize: Normalization,
): Promise<string[]> {
  const tokenizer = createTokenizer({ token, normalize });
  const decoder = new Utf8StreamDecoder("test");
  const tokens: string[] = [];
  const take = (codes: Uint8Array | Uint32Array) => {
    for (const code of codes) tokens.push(tokenizer.tokenOf(code));
  };
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    const chunk = bytes.subarray(at, Math.max(at, Math.min(cut, bytes.length)));
    at += chunk.length;
    take(tokenizer.push(chunk, await decoder.push(chunk)));
  }
  take(tokenizer.push(new Uint8Array(0), await decoder.end()));
  take(tokenizer.end());
  return tokens;
}

const TRICKY = "The Time Machine, by H. G. Wells [1898]\r\n\r\nI\n\nThe Time-Traveller's " +
  "café—naïve señor 日本語 😀 emoji\rline\tafter  a tab\u00a0nbsp\u2003em\x1cfs\n  trailing   \n";

Deno.test("tokenizeText follows d2l: lines normalised, chars joined without separators", () => {
  deepStrictEqual(tokenizeText("Hello, World!\nsecond line\r\nthird\rfourth"), [
    ..."hello worldsecond linethirdfourth",
  ]);
  deepStrictEqual(tokenizeText("  --The Time's up--  \n\n42\nA-b", { token: "word" }), [
    "the",
    "time",
    "s",
    "up",
    "a",
    "b",
  ]);
  // Non-ASCII letters are not [A-Za-z]: they separate words like punctuation.
  deepStrictEqual(tokenizeText("café au lait", { token: "word" }), ["caf", "au", "lait"]);
});

Deno.test("tokenizeText raw keeps every character; raw words split on Python's whitespace", () => {
  deepStrictEqual(tokenizeText("a😀\r\n", { normalize: "raw" }), ["a", "😀", "\r", "\n"]);
  deepStrictEqual(
    tokenizeText("x\ty\u00a0z\x1cw\u3000v  \n u", { token: "word", normalize: "raw" }),
    ["x", "y", "z", "w", "v", "u"],
  );
});

Deno.test("streaming tokenizers equal tokenizeText under any chunking", async () => {
  const bytes = new TextEncoder().encode(TRICKY.repeat(3));
  const rng = new Rng(11);
  for (const [token, normalize] of MODES) {
    const expected = tokenizeText(TRICKY.repeat(3), { token, normalize });
    // Every single cut point, then random multi-cut chunkings (1-byte chunks included).
    for (let cut = 0; cut <= bytes.length; cut += 1) {
      deepStrictEqual(await streamTokens(bytes, [cut], token, normalize), expected);
    }
    for (let trial = 0; trial < 30; trial++) {
      const cuts: number[] = [];
      for (let at = 0; at < bytes.length;) {
        at += 1 + rng.int(trial % 2 === 0 ? 3 : 40);
        cuts.push(at);
      }
      deepStrictEqual(
        await streamTokens(bytes, cuts, token, normalize),
        expected,
        `${token}/${normalize} trial ${trial}`,
      );
    }
  }
});

Deno.test("d2l word tokenizer handles many distinct words and very long words across chunks", async () => {
  const rng = new Rng(3);
  const words: string[] = [];
  for (let i = 0; i < 20000; i++) {
    const length = 1 + rng.int(12);
    let w = "";
    for (let k = 0; k < length; k++) {
      w += String.fromCharCode(65 + rng.int(26) + (rng.int(2) ? 32 : 0));
    }
    words.push(w);
  }
  words.push("x".repeat(5000));
  const text = words.join(rng.int(2) ? " " : ",\n");
  const bytes = new TextEncoder().encode(text);
  const cuts = Array.from({ length: 200 }, (_, i) => (i + 1) * 997);
  deepStrictEqual(
    await streamTokens(bytes, cuts, "word", "d2l"),
    tokenizeText(text, { token: "word" }),
  );
});

Deno.test("Utf8StreamDecoder names the offset and line of a bad byte, even across chunks", async () => {
  const good = new TextEncoder().encode("ab\ncd\né");
  // 0xE9 0x80 then a non-continuation: the lead byte E9 at offset 8 (line 3) is bad.
  const bytes = new Uint8Array([...good, 0xe9, 0x80, 0x41]);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const decoder = new Utf8StreamDecoder("t.txt");
    await rejects(async () => {
      await decoder.push(bytes.subarray(0, cut));
      await decoder.push(bytes.subarray(cut));
      await decoder.end();
    }, (error: Error) => {
      deepStrictEqual(error instanceof UsageError, true);
      deepStrictEqual(
        error.message,
        'Cannot decode corpus "t.txt": invalid UTF-8 at byte offset 8 (line 3)',
      );
      return true;
    });
  }
  // A sequence cut off by the end of the stream.
  const decoder = new Utf8StreamDecoder("end.txt");
  await decoder.push(new Uint8Array([0x61, 0x0a, 0x0a, 0xf0, 0x9f]));
  await rejects(() => decoder.end(), /byte offset 3 \(line 3\)/);
});
