import { expect, test } from "bun:test";
import { createLogger } from "../../log/logger.ts";
import { ConnectionWatch } from "./connection-watch.ts";

function watchWith(answers: () => boolean) {
  const lines: { msg: string; level: string }[] = [];
  let probes = 0;
  const watch = new ConnectionWatch({
    probe: async () => {
      probes++;
      if (!answers()) throw new Error("Connection refused");
    },
    log: createLogger("debug", (line) => lines.push(JSON.parse(line))),
    where: "postgres://h@db:5432/x",
    firstRetryMs: 5,
    maxRetryMs: 20,
  });
  return { watch, lines, probes: () => probes };
}

async function until(what: () => boolean) {
  for (let i = 0; i < 400 && !what(); i++) await Bun.sleep(5);
  expect(what()).toBe(true);
}

test("one dropped connection on a server that answers is not an outage: nothing is held back or logged", async () => {
  const w = watchWith(() => true);
  w.watch.failed(new Error("connection closed"));
  await until(() => w.probes() === 1);
  await Bun.sleep(20);
  expect(w.watch.downError()).toBeNull();
  expect(w.lines).toEqual([]);
});

test("a server that does not answer holds statements back, retries with backoff, and logs once lost and once back", async () => {
  let up = false;
  const w = watchWith(() => up);
  w.watch.failed(new Error("the database system is shutting down"));
  await until(() => w.watch.downError() !== null);
  expect(w.watch.downError()!.code).toBe("unreachable");
  expect(w.watch.downError()!.message).toContain("postgres://h@db:5432/x");
  // More failures while it is away change nothing.
  for (let i = 0; i < 5; i++) w.watch.failed(new Error("refused"));
  await until(() => w.probes() >= 4);
  up = true;
  await until(() => w.watch.downError() === null);
  expect(w.lines.map((l) => [l.level, l.msg])).toEqual([
    ["warn", "lost the database"],
    ["info", "the database is back"],
  ]);
  w.watch.close();
});

test("close stops the retries", async () => {
  const w = watchWith(() => false);
  w.watch.failed(new Error("refused"));
  await until(() => w.watch.downError() !== null);
  w.watch.close();
  const probes = w.probes();
  await Bun.sleep(60);
  expect(w.probes()).toBe(probes);
});
