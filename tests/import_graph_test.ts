/**
 * What importing `mod.ts` costs a library user: the npm packages in its
 * static module graph (what `deno run` and `deno cache` download before the
 * first line runs), and the npm build scripts Deno would warn about.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";

const ROOT = new URL("..", import.meta.url);

/** The npm packages (name@version) of `mod.ts`'s graph, as a config-free importer sees it. */
async function npmPackagesOfMod(): Promise<string[]> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--no-config", "--no-lock", "mod.ts"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  strictEqual(code, 0, new TextDecoder().decode(stderr));
  const info = JSON.parse(new TextDecoder().decode(stdout)) as {
    npmPackages: Record<string, unknown>;
  };
  return Object.keys(info.npmPackages);
}

Deno.test("mod.ts's static graph holds no script-only dependency (plot stack, progress bar)", async () => {
  const packages = await npmPackagesOfMod();
  ok(packages.some((p) => p.startsWith("@tensorflow/tfjs@")), `tfjs is there: ${packages}`);
  const heavy = packages.filter((p) =>
    /^(@observablehq\/plot|linkedom|d3(-[a-z-]+)?|htmlparser2|cli-progress|@types\/cli-progress)@/
      .test(p)
  );
  deepStrictEqual(heavy, [], "loaded lazily (plots) or by the scripts only (progress bar)");
});

Deno.test("every npm package with a build script has a decision in deno.json's allowScripts", async () => {
  const lock = JSON.parse(await Deno.readTextFile(new URL("deno.lock", ROOT))) as {
    npm: Record<string, { scripts?: boolean }>;
  };
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))) as {
    allowScripts?: { allow?: string[]; deny?: string[] };
  };
  const decided = new Set([
    ...(config.allowScripts?.allow ?? []),
    ...(config.allowScripts?.deny ?? []),
  ]);
  const withScripts = Object.entries(lock.npm).filter(([, entry]) => entry.scripts)
    .map(([key]) => `npm:${key.replace(/_.*$/, "")}`);
  ok(withScripts.length > 0, "tfjs pulls core-js, which has a postinstall script");
  deepStrictEqual(withScripts.filter((name) => !decided.has(name)), []);
});
