/**
 * What one outbound request costs the relay's process: a 64-way closed loop
 * of POSTs (a delivery's headers and body) to the counting sink, through
 * `fetch` and through the sender's HTTP/1.1 exchange (delivery/http-exchange.ts),
 * alternated twice. Prints requests/s and the CPU per request of each thread
 * of this process (/proc) and of the sink. By hand: `bun bench/send-loop.ts`.
 */
import { createHttpExchanger } from "../src/delivery/http-exchange.ts";
import { COUNTING_SINK_COMMAND, sinkUrlOf, threadCpuMs } from "./wrk.ts";

const N = Number(process.env.BENCH_REQUESTS ?? 40_000);
const BODY = new TextEncoder().encode(JSON.stringify({ type: "order.paid", data: { id: "ord_123", amount: 4200, currency: "EUR", note: "ë Ñ ú ✓" } }));
const HEADERS: [string, string][] = [
  ["content-type", "application/json"],
  ["user-agent", "hookrelay/0.1"],
  ["webhook-id", "evt_2abcdefghijklmnop"],
  ["webhook-timestamp", "1733290000"],
  ["webhook-signature", "v1,abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG="],
  ["hookrelay-source", "bench"],
  ["hookrelay-event-type", "order.paid"],
  ["hookrelay-attempt", "1"],
];

const sink = Bun.spawn(COUNTING_SINK_COMMAND, { stdout: "pipe", stderr: "inherit" });
const sinkUrl = new URL(await sinkUrlOf(sink));

async function closedLoop(n: number, send: () => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next++ < n) await send();
  }));
  return n / ((performance.now() - started) / 1000);
}

const viaFetch = async () => {
  await (await fetch(sinkUrl, { method: "POST", body: BODY, headers: HEADERS })).arrayBuffer();
};
const exchanger = createHttpExchanger();
const head = `POST ${sinkUrl.pathname} HTTP/1.1\r\nhost: ${sinkUrl.host}\r\n${HEADERS.map(([k, v]) => `${k}: ${v}\r\n`).join("")}content-length: ${BODY.length}\r\n`;
const viaExchange = async () => {
  const outcome = await exchanger.exchange({
    address: sinkUrl.hostname,
    port: Number(sinkUrl.port),
    tls: null,
    poolKey: "sink",
    head,
    body: BODY,
    connectTimeoutMs: 1000,
    deadline: performance.now() + 10_000,
    timeoutMs: 10_000,
    replyBytes: 4096,
  });
  if (outcome.kind !== "reply") throw new Error(JSON.stringify(outcome));
};

for (const [name, send] of [["fetch", viaFetch], ["exchange", viaExchange], ["fetch", viaFetch], ["exchange", viaExchange]] as const) {
  await closedLoop(5_000, send); // warm-up
  const ours0 = threadCpuMs(process.pid);
  const sink0 = threadCpuMs(sink.pid);
  const rate = await closedLoop(N, send);
  const ours1 = threadCpuMs(process.pid);
  const sink1 = threadCpuMs(sink.pid);
  const perThread = [...ours1]
    .map(([tid, t]) => [tid === process.pid ? "event loop" : t.name, ((t.ms - (ours0.get(tid)?.ms ?? 0)) * 1000) / N] as const)
    .filter(([, us]) => us >= 0.5)
    .map(([thread, us]) => `${thread} ${us.toFixed(1)}`);
  let sinkMs = 0;
  for (const [tid, t] of sink1) sinkMs += t.ms - (sink0.get(tid)?.ms ?? 0);
  console.log(`${name.padEnd(8)} ${rate.toFixed(0).padStart(6)} req/s   µs per request: ${perThread.join(", ")}; sink ${((sinkMs * 1000) / N).toFixed(1)}`);
}
exchanger.close();
sink.kill();
