import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { Rng } from "../../lib/rng.ts";
import { randomBatches, sequentialBatches } from "../../lib/corpus/batches.ts";
import { loadCorpus } from "../../lib/corpus/load.ts";
import {
  FileTokenIds,
  MemoryTokenIds,
  type TokenIds,
  TokenStoreWriter,
  widthFor,
} from "../../lib/corpus/store.ts";

const TIME_MACHINE = new URL("../../data/timemachine.txt", import.meta.url).pathname;

Deno.test("ids are stored 1, 2 or 4 bytes wide by vocabulary size", () => {
  deepStrictEqual([1, 256, 257, 65536, 65537, 1e6].map(widthFor), [1, 1, 2, 2, 4, 4]);
});

Deno.test("file stores of each width read back what was written, views included", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const vocabSize of [200, 60000, 100000]) {
      const rng = new Rng(vocabSize);
      const ids = Int32Array.from({ length: 50000 }, () => rng.int(vocabSize));
      const writer = await TokenStoreWriter.create({
        length: ids.length,
        vocabSize,
        path: `${dir}/${vocabSize}.bin`,
      });
      await writer.write(ids.subarray(0, 12345));
      await writer.writeMapped(
        Uint32Array.from(ids.subarray(12345)),
        Int32Array.from({ length: vocabSize }, (_, i) => i),
      );
      const store = await writer.finish();
      ok(store instanceof FileTokenIds);
      strictEqual(store.width, widthFor(vocabSize));
      strictEqual(Deno.statSync(`${dir}/${vocabSize}.bin`).size, ids.length * store.width);
      strictEqual(store.length, ids.length);
      deepStrictEqual(store.read(0, ids.length), ids);
      deepStrictEqual(store.read(777, 3), ids.slice(777, 780));
      const view = store.view(1000, 2000);
      strictEqual(view.length, 1000);
      deepStrictEqual(view.read(10, 5), ids.slice(1010, 1015));
      deepStrictEqual(view.view(100, 200).read(0, 100), ids.slice(1100, 1200));
      const out = new Int32Array(8);
      view.readInto(0, 4, out, 4);
      deepStrictEqual([...out.subarray(4)], [...ids.slice(1000, 1004)]);
      throws(() => view.read(999, 2), RangeError);
      throws(() => store.view(10, 5), RangeError);
      view.close(); // a view does not close the file
      deepStrictEqual(store.read(0, 2), ids.slice(0, 2));
      store.close();
      throws(() => view.read(0, 1), /closed/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("memory stores read, view and bound-check like file stores", () => {
  const ids: TokenIds = new MemoryTokenIds(Uint16Array.from([5, 6, 7, 8, 9]));
  deepStrictEqual([...ids.read(1, 3)], [6, 7, 8]);
  deepStrictEqual([...ids.view(2, 5).read(0, 3)], [7, 8, 9]);
  throws(() => ids.read(4, 2), RangeError);
  throws(() => ids.read(-1, 1), RangeError);
  throws(() => ids.view(0, 6), RangeError);
});

Deno.test("a multi-chunk corpus loads the same via memory and via spilled files; so do its batches", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // ~2.1 MB: several read chunks; word ids need 2 bytes.
    const text = (await Deno.readTextFile(TIME_MACHINE)).repeat(12);
    await Deno.writeTextFile(`${dir}/big.txt`, text);
    for (const token of ["char", "word"] as const) {
      using memory = await loadCorpus({
        source: `${dir}/big.txt`,
        token,
        storage: "memory",
        memoryLimitBytes: 1 << 30,
      });
      using file = await loadCorpus({
        source: `${dir}/big.txt`,
        token,
        memoryLimitBytes: 1 << 16,
        tempDir: dir,
      });
      strictEqual(memory.storage, "memory");
      strictEqual(file.storage, "file");
      strictEqual(file.tokens, memory.tokens);
      strictEqual(file.tokens, token === "char" ? 170580 * 12 : 32775 * 12);
      deepStrictEqual(file.vocab.tokens, memory.vocab.tokens);
      deepStrictEqual(
        file.train.read(0, file.train.length),
        memory.train.read(0, memory.train.length),
      );
      deepStrictEqual(
        file.valid.read(0, file.valid.length),
        memory.valid.read(0, memory.valid.length),
      );
      for (const sampler of [sequentialBatches, randomBatches]) {
        const options = { batchSize: 16, numSteps: 35 };
        const a = sampler(memory.train, { ...options, rng: new Rng(5) });
        const b = sampler(file.train, { ...options, rng: new Rng(5) });
        strictEqual(a.numBatches, b.numBatches);
        const ib = b[Symbol.iterator]();
        let count = 0;
        for (const batch of a) {
          const other = ib.next().value!;
          if (count++ % 97 === 0) {
            deepStrictEqual(batch.x, other.x);
            deepStrictEqual(batch.y, other.y);
          }
        }
        strictEqual(count, a.numBatches);
      }
    }
    deepStrictEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name),
      ["big.txt"],
      "temp files removed",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
