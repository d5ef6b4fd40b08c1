/**
 * A SIGHUP (`systemctl reload`) that comes while a relay is still starting:
 * its default action would end the process (under systemd a death by SIGHUP
 * counts as a clean exit, so Restart=on-failure would not bring it back),
 * and the reload it asks for has nothing to apply to yet. From the first
 * line of `serve` and `dev` it is held, and carried out once the relay
 * listens. (Across the runtime-tuning re-exec it is ignored: runtime-tuning.ts.)
 */
let asked = false;
const hold = () => {
  asked = true;
};

/** Holds reload signals from now until the relay has started. */
export function holdReloadsWhileStarting(): void {
  process.on("SIGHUP", hold);
}

/** From now on a reload signal runs `reload`; one held while starting runs it at once. */
export function reloadOnSignal(reload: () => void): void {
  process.on("SIGHUP", reload);
  process.off("SIGHUP", hold);
  if (asked) {
    asked = false;
    reload();
  }
}
