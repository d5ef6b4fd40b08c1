/**
 * Group commit for attempt outcomes: every attempt that finishes while a
 * write is running joins the next one, so N finished attempts cost one
 * transaction (one fsync) instead of N, and the same transaction leases the
 * work that fills the freed slots. This is what lets delivery keep up with a
 * fast target.
 */
import type { SqlClient as Client } from "../store/remote-client.ts";
import { recordOutcomes, type LeasedDelivery, type LeaseRequest, type OutcomeRecord } from "../store/deliveries.ts";
import type { TargetState } from "../store/target-state.ts";

const MAX_BATCH = 400;

/** What a caller learns once its outcome is durable. */
export interface Recorded {
  /** false: the lease was lost (another worker owns the delivery now). */
  updated: boolean;
  /** The target's state after this batch (failure streak, circuit, disabled). */
  target: TargetState | null;
}

/** Queues outcomes and writes them in shared transactions. */
export class OutcomeWriter {
  #queue: { record: OutcomeRecord; resolve(r: Recorded): void; reject(e: unknown): void }[] = [];
  #running: Promise<void> | null = null;

  constructor(
    private readonly client: Client,
    private readonly nowMs: () => number,
    /** Asked at each write: what to lease in the same transaction (the slots this batch frees). */
    private readonly leaseAlong: (batch: OutcomeRecord[]) => LeaseRequest | null = () => null,
    private readonly onLeased: (leased: LeasedDelivery[]) => void = () => {},
  ) {}

  /** Resolves once the outcome is committed; rejects if the store cannot write. */
  write(record: OutcomeRecord): Promise<Recorded> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      if (!this.#running) this.#running = new Promise<void>((r) => setImmediate(r)).then(() => this.#run());
    });
  }

  /** Resolves when everything queued so far is written. */
  async flushed(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #run(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, MAX_BATCH);
        try {
          const records = batch.map((b) => b.record);
          const res = await recordOutcomes(this.client, records, this.nowMs(), this.leaseAlong(records));
          this.onLeased(res.leased);
          const states = new Map(res.targets.map((t) => [t.name, t]));
          for (const b of batch) b.resolve({ updated: res.updated.has(b.record.deliveryId), target: states.get(b.record.target) ?? null });
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.#running = null;
    }
  }
}
