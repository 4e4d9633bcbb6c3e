/**
 * Ctrl-C and SIGTERM during training: the first asks the loop to stop at the
 * next step boundary and save; a second quits at once.
 *
 * @module
 */
import { info } from "./_cli.ts";

/** What {@linkcode watchSignals} returns: the signal received, if any. */
export interface SignalWatch {
  signal?: "SIGINT" | "SIGTERM";
  dispose(): void;
}

/**
 * Turns SIGINT and SIGTERM into a flag the training loop reads between
 * steps; the first one stops the progress bar (so the acknowledgement stays
 * on screen) and says what a second one does.
 */
export function watchSignals(
  onSignal: () => void,
): SignalWatch {
  const watch: SignalWatch = { dispose: () => {} };
  const handlers = (["SIGINT", "SIGTERM"] as const).map((name) => {
    const handler = () => {
      if (watch.signal) {
        info(`${name} again: quitting now, without saving this epoch's progress`);
        Deno.exit(name === "SIGINT" ? 130 : 143);
      }
      watch.signal = name;
      onSignal();
      info(
        `${name}: finishing the current step, then saving a checkpoint to resume from ` +
          `(this can take a while with a large model); ${
            name === "SIGINT" ? "Ctrl-C" : "a second signal"
          } again quits at once without saving (the last epoch's checkpoint stays)`,
      );
    };
    Deno.addSignalListener(name, handler);
    return [name, handler] as const;
  });
  watch.dispose = () => handlers.forEach(([name, h]) => Deno.removeSignalListener(name, h));
  return watch;
}
