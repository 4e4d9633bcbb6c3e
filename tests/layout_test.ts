import { ok } from "node:assert";

const ROOT = new URL("..", import.meta.url);

/**
 * The task folders of lib/ (rank 6 below) and the script that trains each.
 * Adding a task is one folder copying any of these, one script, one line here.
 */
const TASKS: Record<string, string> = {
  lm: "train.ts",
  classify: "classify.ts",
  generate: "generate.ts",
  seq2seq: "translate.ts",
};

/** The parts every task folder has, so that any one of them is the template of the next. */
const TASK_PARTS = ["model.ts", "data.ts", "evaluate.ts", "run.ts", "mod.ts"];

/**
 * The layers of lib/, lowest first. A file may import files of its own rank or
 * below, never above: the folder names are the architecture.
 */
const RANKS: [RegExp, number][] = [
  [/^lib\/(tf|tfjs|errors|rng)\.ts$/, 0],
  [/^lib\/ops\//, 1],
  [/^lib\/(cells|corpus|supervised|native|decoding)\//, 2],
  [/^lib\/kernels\//, 3],
  [/^lib\/layers\//, 4],
  [/^lib\/training\//, 5],
  [new RegExp(`^lib/(${Object.keys(TASKS).join("|")})/`), 6],
  [/^lib\/export\//, 7],
];

function rank(path: string): number {
  const found = RANKS.find(([pattern]) => pattern.test(path));
  if (!found) throw new Error(`tests/layout_test.ts: no rank for ${path}; add its folder`);
  return found[1];
}

async function libFiles(dir = new URL("lib/", ROOT)): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.isDirectory ? `${entry.name}/` : entry.name, dir);
    if (entry.isDirectory) files.push(...await libFiles(url));
    else if (entry.name.endsWith(".ts")) files.push(url.pathname.slice(ROOT.pathname.length));
  }
  return files;
}

/** The lib/ files a file imports (code only: doc examples are not part of the graph). */
async function imports(path: string): Promise<string[]> {
  const text = (await Deno.readTextFile(new URL(path, ROOT))).replace(/\/\*\*[\s\S]*?\*\//g, "");
  const found: string[] = [];
  for (const [, target] of text.matchAll(/^(?:import|export)[^;]*? from "(\.[^"]+)";/gms)) {
    found.push(new URL(target, new URL(path, ROOT)).pathname.slice(ROOT.pathname.length));
  }
  return found;
}

Deno.test("lib/ files import only their own layer or the layers below", async () => {
  const upward: string[] = [];
  for (const file of await libFiles()) {
    for (const target of await imports(file)) {
      if (rank(target) > rank(file)) upward.push(`${file} -> ${target}`);
    }
  }
  ok(upward.length === 0, `imports that go upward:\n${upward.join("\n")}`);
});

Deno.test("lib/ and scripts/ have no import cycles", async () => {
  const files = [...await libFiles(), ...await libFiles(new URL("scripts/", ROOT))];
  const graph = new Map<string, string[]>();
  for (const file of files) graph.set(file, await imports(file));
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "open") {
      cycles.push([...path.slice(path.indexOf(file)), file].join(" -> "));
      return;
    }
    state.set(file, "open");
    for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    state.set(file, "done");
  };
  for (const file of files) visit(file, []);
  ok(cycles.length === 0, `import cycles:\n${cycles.join("\n")}`);
});

/** The folder that owns a file: `lib/kernels` for `lib/kernels/webgpu/_lstm.ts`, `scripts`. */
function owner(path: string): string {
  const parts = path.split("/");
  return parts[0] === "lib" && parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0];
}

Deno.test("`_` files are private to their folder (lib/ and scripts/)", async () => {
  // tests/ may reach a private helper of the lib/ folder it mirrors: they test it.
  const files = [...await libFiles(), ...await libFiles(new URL("scripts/", ROOT))];
  const reaching: string[] = [];
  for (const file of files) {
    for (const target of await imports(file)) {
      const name = target.split("/").at(-1) ?? "";
      if (name.startsWith("_") && owner(target) !== owner(file)) {
        reaching.push(`${file} -> ${target}`);
      }
    }
  }
  ok(reaching.length === 0, `imports of another folder's private files:\n${reaching.join("\n")}`);
});

Deno.test("every lib/ folder has a mod.ts that the root mod.ts re-exports", async () => {
  const root = await Deno.readTextFile(new URL("mod.ts", ROOT));
  const missing: string[] = [];
  for await (const entry of Deno.readDir(new URL("lib/", ROOT))) {
    if (!entry.isDirectory) continue;
    const folderMod = `./lib/${entry.name}/mod.ts`;
    const exists = await Deno.stat(new URL(folderMod, ROOT)).then(() => true, () => false);
    if (!exists || !root.includes(`export * from "${folderMod}";`)) missing.push(folderMod);
  }
  ok(missing.length === 0, `folders without a re-exported mod.ts: ${missing.join(", ")}`);
});

Deno.test("every task folder has the same parts, a script, and imports no other task", async () => {
  const problems: string[] = [];
  for (const [task, script] of Object.entries(TASKS)) {
    for (const part of [...TASK_PARTS.map((p) => `lib/${task}/${p}`), `scripts/${script}`]) {
      const exists = await Deno.stat(new URL(part, ROOT)).then(() => true, () => false);
      if (!exists) problems.push(`${part} is missing`);
    }
  }
  for (const file of await libFiles()) {
    const task = owner(file).slice("lib/".length);
    if (!(task in TASKS)) continue;
    for (const target of await imports(file)) {
      const other = owner(target).slice("lib/".length);
      if (other in TASKS && other !== task) problems.push(`${file} -> ${target}`);
    }
  }
  ok(problems.length === 0, `task folders out of shape:\n${problems.join("\n")}`);
});
