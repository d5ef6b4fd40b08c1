/**
 * The public listener: `POST /in/<source>` only. Reads the raw bytes itself
 * (Elysia's parsers are off) so the verifier sees exactly what was sent, then
 * maps the pipeline's outcome to a status: 200 stored or duplicate, 401
 * rejected, 404 unknown source, 405 other methods, 413/408 while reading,
 * 503 + Retry-After when server.max_inflight of bodies are already in
 * flight or when the store cannot write.
 */
import { Elysia } from "elysia";
import { answerGetChallenge } from "../core/verify/index.ts";
import { ingest, type IngestDeps, type IngestResult } from "../ingest/ingest.ts";
import type { CompiledSource } from "../ingest/sources.ts";
import { errorResponse, HttpError } from "./http-error.ts";
import { inflightBudget } from "./inflight-budget.ts";
import { readBodyLimited } from "./read-body.ts";

export interface IngestControllerOptions {
  sources: Map<string, CompiledSource>;
  deps: IngestDeps;
  maxBodyBytes: number;
  readTimeoutMs: number;
  /** Body bytes read and stored at once across all requests (server.max_inflight). */
  maxInflightBytes: number;
  /** Seconds a provider should wait before retrying after a 503. */
  retryAfterSec?: number;
}

const JSON_TYPE = { "content-type": "application/json" };
// The Response copies its headers: one shared object serves every 200.
const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: JSON_TYPE });

/** Elysia instance serving the public inbound routes. */
export function ingestController(opts: IngestControllerOptions) {
  const retryAfter = String(opts.retryAfterSec ?? 5);
  const inflight = inflightBudget(opts.maxInflightBytes, opts.retryAfterSec ?? 5);
  return new Elysia({ name: "ingest" })
    .post(
      "/in/:source",
      async ({ request, params, server }) => {
        const source = opts.sources.get(params.source);
        if (!source) return errorResponse(new HttpError(404, "unknown_source", `no source named "${params.source}"`));
        // The body counts against max_inflight until its answer: it is in
        // memory (and on its way to the writer) until then.
        const hold = inflight.hold();
        let result: IngestResult;
        try {
          const body = await readBodyLimited(request, opts.maxBodyBytes, opts.readTimeoutMs, hold);
          result = await ingest(opts.deps, source, {
            method: request.method,
            url: new URL(request.url),
            headers: request.headers,
            body,
            remoteAddr: server?.requestIP(request)?.address ?? null,
          });
        } catch (err) {
          return errorResponse(err);
        } finally {
          hold.release();
        }
        switch (result.kind) {
          case "stored":
            return json(200, { id: result.id });
          case "duplicate":
            return json(200, { id: result.id, duplicate: true });
          case "handshake":
            return new Response(result.body, { status: result.status, headers: { "content-type": result.contentType } });
          case "rejected":
            return errorResponse(new HttpError(401, result.reason, result.message));
          case "unavailable":
            return errorResponse(
              new HttpError(503, "store_unavailable", `event not stored (${result.error.code}); retry later`, { "retry-after": retryAfter }),
            );
        }
      },
      { parse: "none" },
    )
    .get("/in/:source", ({ params, request }) => {
      const source = opts.sources.get(params.source);
      if (!source) return errorResponse(new HttpError(404, "unknown_source", `no source named "${params.source}"`));
      // Verification challenges some providers send before the first event (never stored).
      const hs = answerGetChallenge(source.config.verify, new URL(request.url).searchParams);
      if (hs) return new Response(hs.body, { status: hs.status, headers: { "content-type": hs.contentType, "x-content-type-options": "nosniff" } });
      return errorResponse(new HttpError(405, "method_not_allowed", "webhooks must be sent with POST", { allow: "POST" }));
    })
    .all("/in/:source", ({ params }) => {
      if (!opts.sources.has(params.source))
        return errorResponse(new HttpError(404, "unknown_source", `no source named "${params.source}"`));
      return errorResponse(new HttpError(405, "method_not_allowed", "webhooks must be sent with POST", { allow: "POST" }));
    });
}
