import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { UsageError } from "../../lib/errors.ts";
import { UNK, Vocab, type VocabJSON } from "../../lib/corpus/vocab.ts";
import { TokenCounter } from "../../lib/corpus/_count.ts";
import { loadCorpus } from "../../lib/corpus/load.ts";

Deno.test("Vocab orders by frequency, ties by first occurrence, <unk> first", () => {
  // counts: b 3, a 2, c 2, d 1; c ties with a but appears later.
  const vocab = Vocab.build([..."abcbcbad"]);
  deepStrictEqual(vocab.tokens, [UNK, "b", "a", "c", "d"]);
  strictEqual(vocab.size, 5);
  strictEqual(vocab.idOf("c"), 3);
  strictEqual(vocab.idOf("z"), 0);
  strictEqual(vocab.tokenOf(4), "d");
  throws(() => vocab.tokenOf(5), RangeError);
  throws(() => vocab.tokenOf(-1), RangeError);
});

Deno.test("Vocab minFreq drops rare tokens and reserved tokens come right after <unk>", () => {
  const tokens = ["the", "cat", "the", "dog", "the", "cat", "<pad>"];
  const vocab = Vocab.build(tokens, { token: "word", minFreq: 2, reserved: ["<pad>", "<bos>"] });
  // <pad> occurs once but is reserved: it keeps id 1 and is not listed twice.
  deepStrictEqual(vocab.tokens, [UNK, "<pad>", "<bos>", "the", "cat"]);
  deepStrictEqual([...vocab.encode(["the", "dog", "<bos>"])], [3, 0, 2]);
  strictEqual(vocab.decode([3, 4, 0]), "the cat <unk>");
  strictEqual(vocab.joiner, " ");
  strictEqual(Vocab.build("ab").joiner, "");
  // minFreq 0 (default) keeps everything.
  strictEqual(Vocab.build(tokens, { token: "word" }).size, 5);
});

Deno.test("Vocab rejects bad options with UsageError", () => {
  throws(() => Vocab.build(["a"], { minFreq: -1 }), UsageError);
  throws(() => Vocab.build(["a"], { minFreq: NaN }), UsageError);
  throws(() => Vocab.build(["a"], { reserved: ["<unk>"] }), UsageError);
  throws(() => Vocab.build(["a"], { reserved: ["<pad>", "<pad>"] }), UsageError);
  throws(() => Vocab.build(["a"], { reserved: [""] }), UsageError);
});

Deno.test("Vocab JSON round-trips through a checkpoint", () => {
  const vocab = Vocab.build("the time machine by h g wells", {
    token: "char",
    normalize: "raw",
    reserved: ["<eos>"],
  });
  const json = JSON.stringify(vocab);
  const again = Vocab.fromJSON(JSON.parse(json));
  deepStrictEqual(again.tokens, vocab.tokens);
  deepStrictEqual(again.reserved, ["<eos>"]);
  strictEqual(again.token, "char");
  strictEqual(again.normalize, "raw");
  deepStrictEqual(again.toJSON(), vocab.toJSON());
  // The JSON text works too.
  deepStrictEqual(Vocab.fromJSON(json).tokens, vocab.tokens);
  const record = vocab.toJSON();
  strictEqual(record.format, "rnn-deno/vocab");
  strictEqual(record.version, 1);
});

Deno.test("Vocab.fromJSON rejects malformed records with a UsageError saying what is wrong", () => {
  const good: VocabJSON = Vocab.build("abc").toJSON();
  const cases: [unknown, RegExp][] = [
    [null, /not an object/],
    ["{not json", /not JSON/],
    [[], /not an object/],
    [{ ...good, format: "other" }, /format/],
    [{ ...good, version: 2 }, /version 2/],
    [{ ...good, tokens: "abc" }, /tokens is not an array/],
    [{ ...good, tokens: [UNK, 1] }, /tokens is not an array of strings/],
    [{ ...good, tokens: ["a", UNK] }, /first token/],
    [{ ...good, tokens: [UNK, "a", "a"] }, /appears twice/],
    [{ ...good, tokens: [UNK, "ab"] }, /not one character/],
    [{ ...good, tokens: [UNK, ""] }, /non-empty/],
    [{ ...good, token: "byte" }, /token kind "byte"/],
    [{ ...good, normalize: "nfkc" }, /normalisation "nfkc"/],
    [{ ...good, reserved: ["<pad>"] }, /reserved token "<pad>" is not at id 1/],
    [{ ...good, reserved: undefined }, /reserved is not an array/],
  ];
  for (const [record, message] of cases) {
    throws(() => Vocab.fromJSON(record), (error: Error) => {
      ok(error instanceof UsageError, `${JSON.stringify(record)}: ${error}`);
      ok(error.message.startsWith("Cannot read vocabulary: "), error.message);
      ok(message.test(error.message), `${error.message} !~ ${message}`);
      return true;
    });
  }
});

Deno.test("Vocab char tokens may be astral code points", () => {
  const vocab = Vocab.build("😀a😀");
  deepStrictEqual(vocab.tokens, [UNK, "😀", "a"]);
  strictEqual(Vocab.fromJSON(vocab.toJSON()).decode([1, 2]), "😀a");
});

Deno.test("TokenCounter keeps first-occurrence order in both its counting paths", () => {
  for (const codeLimit of [Infinity, 200]) {
    const counter = new TokenCounter();
    counter.add(new Uint8Array([120, 98, 98]), 3, codeLimit);
    counter.add(new Uint8Array([99, 97, 99, 120]), 4, codeLimit);
    deepStrictEqual(counter.firstSeen(), [120, 98, 99, 97]);
    deepStrictEqual([120, 98, 99, 97].map((c) => counter.count(c)), [2, 2, 2, 1]);
    strictEqual(counter.total, 7);
  }
});

Deno.test("loadCorpus breaks count ties by first occurrence", async () => {
  const source = new Blob(["zyx xyz"]).stream();
  using corpus = await loadCorpus({ source, validFraction: 0 });
  deepStrictEqual(corpus.vocab.tokens, [UNK, "z", "y", "x", " "]);
});
