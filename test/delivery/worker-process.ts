/**
 * A stand-alone delivery worker for the multi-process test: opens the store
 * (a file, or the PostgreSQL database the test made), runs a scheduler with its real loop until no delivery is open, then
 * prints how many attempts it made. Two of these on one file stand in for
 * two `hookrelay serve` processes (or two relays on one database).
 *
 * Usage: bun worker-process.ts <store url> <target url> <concurrency>
 */
import { createScheduler } from "../../src/delivery/scheduler.ts";
import { countDeliveriesByTarget } from "../../src/store/deliveries.ts";
import { openStore } from "../../src/store/index.ts";
import { targetConfig } from "./fixtures.ts";

const [storeUrl, url, concurrency] = process.argv.slice(2);
const store = await openStore({ url: storeUrl!, busyTimeoutMs: 10_000, nowMs: Date.now, checkpointEveryMs: 0 });
let attempts = 0;
const scheduler = createScheduler({
  store,
  targets: [targetConfig("t", url!, { concurrency: Number(concurrency) })],
  clock: Date.now,
  random: Math.random,
  pollMs: 5,
  onAttempt: () => void attempts++,
});
await scheduler.start();
for (;;) {
  const counts = await countDeliveriesByTarget(store.reads);
  if (!counts.some((c) => c.status === "pending" || c.status === "delivering")) break;
  await Bun.sleep(20);
}
await scheduler.stop(2000);
await store.close();
console.log(JSON.stringify({ attempts }));
