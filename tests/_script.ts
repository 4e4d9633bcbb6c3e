/**
 * Runs a task script as a user does (a subprocess) and reads what it prints:
 * the JSON rows of `--json`, stdout, stderr and the exit code.
 */
import { ok, strictEqual } from "node:assert";

const ROOT = new URL("..", import.meta.url).pathname;

/** What a script run printed. */
export interface Run {
  code: number;
  rows: Record<string, unknown>[];
  stdout: string;
  stderr: string;
}

/** Runs `scripts/<name>.ts` with `args` (and `stdin`, when given). */
export async function script(name: string, args: string[], stdin?: string): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/${name}.ts`, ...args],
    cwd: ROOT,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const out = new TextDecoder().decode(stdout);
  const rows = args.includes("--json")
    ? out.split("\n").filter(Boolean).map((l) => JSON.parse(l))
    : [];
  return { code, rows, stdout: out, stderr: new TextDecoder().decode(stderr) };
}

/**
 * The lines of stderr but `--backend auto`'s report of what it chose (one line,
 * printed when the backend starts: before some inputs are read).
 */
export function errorLines(stderr: string): string[] {
  return stderr.trim().split("\n").filter((l) => !l.startsWith("backend auto: "));
}

/** A bad input: exit 2 and exactly one error line on stderr, matching `pattern`. */
export function usageError(run: Run, pattern: RegExp): void {
  strictEqual(run.code, 2, run.stderr);
  const lines = errorLines(run.stderr);
  strictEqual(lines.length, 1, run.stderr);
  ok(pattern.test(lines[0]), lines[0]);
}

/**
 * Starts a script with `--json` in the background: each stdout row goes to
 * `onRow` as it arrives (with the child, to signal it); `done` is what it printed.
 */
export function spawnScript(
  name: string,
  args: string[],
  onRow: (row: Record<string, unknown>, child: Deno.ChildProcess) => void,
): { child: Deno.ChildProcess; done: Promise<Run> } {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/${name}.ts`, ...args, "--json"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const done = (async () => {
    const rows: Record<string, unknown>[] = [];
    let buffer = "", stdout = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      stdout += chunk;
      for (let i; (i = buffer.indexOf("\n")) >= 0; buffer = buffer.slice(i + 1)) {
        const row = JSON.parse(buffer.slice(0, i));
        rows.push(row);
        onRow(row, child);
      }
    }
    return { code: (await child.status).code, rows, stdout, stderr: await stderr };
  })();
  return { child, done };
}

/**
 * Runs a training script with `--json` and sends it SIGINT once its first
 * epoch row arrives; returns its rows, stderr and exit code.
 */
export function interruptAfterFirstEpoch(name: string, args: string[]): Promise<Run> {
  return spawnScript(name, args, (row, child) => {
    if (row.event === "epoch" && row.epoch === 1) child.kill("SIGINT");
  }).done;
}

/** A corpus of the first 6,000 characters of The Time Machine, written into `dir`. */
export async function smallCorpus(dir: string): Promise<string> {
  const text = await Deno.readTextFile(`${ROOT}data/timemachine.txt`);
  await Deno.writeTextFile(`${dir}/small.txt`, text.slice(0, 6000));
  return `${dir}/small.txt`;
}

/** Every file under `dir` with its size and modification time: "unchanged" means equal. */
export async function snapshot(dir: string): Promise<string[]> {
  const entries: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) entries.push(...await snapshot(path));
    else {
      const info = await Deno.stat(path);
      entries.push(`${path} ${info.size} ${info.mtime?.getTime()}`);
    }
  }
  return entries.sort();
}
