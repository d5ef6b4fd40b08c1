/** Usage texts for `hookrelay --help` and `hookrelay <command> --help`. */
export const VERSION = "0.1.0";
/**
 * Which build this is: the commit it was built from and the build's date
 * (scripts/build.ts writes them in), "source" when run from the checkout.
 * The version alone stays the same from build to build.
 */
export const BUILD: string = process.env.HOOKRELAY_BUILD_INFO ?? "source";

export const HELP: Record<string, string> = {
  main: `hookrelay ${VERSION} — receive, verify, dedupe, store and forward webhooks

Usage: hookrelay <command> [options]

Commands:
  init      write an example config (hookrelay.toml) to start from
  serve     run the relay (public listener + admin UI/API)
  check     validate a config file and print every problem
  dev       zero-config local relay forwarding to one URL
  replay    schedule new deliveries for stored events
  listen    pull a listen target's deliveries to a local URL
  backup    copy the store while the relay serves (a working store)
  export    write stored events as NDJSON
  import    store exported (or archived) events again
  version   print the version

Run "hookrelay <command> --help" for a command's options.
`,
  init: `Usage: hookrelay init [--config hookrelay.toml] [--force]

Writes the example config: every key with its default, a demo source and a
demo target, listening on 127.0.0.1 with DEMO secrets. Refuses to replace an
existing file unless --force. Then: hookrelay check, hookrelay serve.
`,
  serve: `Usage: hookrelay serve [--config hookrelay.toml]

Runs the relay: POST /in/<source> on server.listen; UI, /api, /metrics,
/healthz and /readyz on server.admin_listen. Refuses to start on a bad config.
SIGTERM/SIGINT stop accepting, finish writes, wait up to 10 s for attempts in
flight (one still running is due again at the next start), exit 0; a second
one exits at once (1).
`,
  check: `Usage: hookrelay check [--config hookrelay.toml]

Validates the config (types, references, secrets reachable) and prints every
problem with its key path, and a warning for each key that has no effect.
Exit 1 on any problem, 0 otherwise (warnings alone too); 2 on bad flags.
Secrets are never printed.
`,
  dev: `Usage: hookrelay dev --forward-to URL [--preset P --secret S] [--port 8080] [--admin-port 8081] [--public-url URL]

Zero-config local relay: one source at /in/dev (verify with --preset and
--secret, or accept anything — with a warning), store in ./.hookrelay/, UI
on. Prints the URL to paste into the provider and the UI address.
Deliveries to URL are signed with a Standard Webhooks secret kept in
./.hookrelay/signing-secret (mode 0600; never printed).

  --forward-to URL   where events go (your local app)
  --preset P         a provider preset (stripe, github, svix, …; see README)
  --secret S         the provider's secret: a literal, env:NAME or file:/path
  --port / --admin-port   listeners (0 = any free port)
  --public-url URL   the URL a tunnel exposes (for URL-signed presets)

Exit 0 on SIGINT/SIGTERM; 2 on bad flags (a value it cannot use included).
`,
  replay: `Usage: hookrelay replay [--config hookrelay.toml] [--source S] [--target T] [--since 2h] [--status failed] [--dry-run]

Schedules new deliveries for the stored events that match and prints how many:
for each event, to the targets it had and those the current routes send it to.
A running relay picks them up. With no filter that is every stored event, the
delivered ones too: see how many with --dry-run first.

  --since T    events received since T: a duration back from now (2h, 7d) or
               an ISO 8601 date or time, UTC unless it names its zone
  --status S   only (event, target) pairs whose latest delivery is S:
               delivered, failed or cancelled; unrouted: pairs with no delivery
               yet (events no route took when they arrived, targets a route
               gained since). A pair whose delivery is still open (pending,
               delivering, paused) is never replayed: it is on its way

Exit 0 once scheduled; 1 when the config or the store cannot be used; 2 on
bad flags (an unknown --source or --target included).
`,
  listen: `Usage: hookrelay listen <relay-url> --target NAME --forward-to URL [--forward-to TYPE=URL ...] [--token T]
                        [--timeout 10s] [--max-backoff 30s] [--log-level info]

Opens an outbound WebSocket to <relay-url>/listen/NAME (the relay's public
listener), receives the listen target's deliveries one at a time in receive
order, posts each body's exact bytes with the relay's Standard Webhooks
headers to the local URL, and acks only after a local 2xx. A failed local
post is retried by the relay on the target's schedule; deliveries queued
while offline flow on connect. Reconnects with capped, jittered backoff.

  --forward-to URL        default local URL
  --forward-to TYPE=URL   route event types matching the glob TYPE (e.g.
                          "order.*=http://localhost:3000/orders"); repeat;
                          first match wins, then the default
  --token T               the target's token: a literal, env:NAME or
                          file:/path (default env:HOOKRELAY_LISTEN_TOKEN)
  --timeout 10s           per local POST; keep it under the target's timeout
                          (the relay waits for an ack that long plus 15 s)
  --max-backoff 30s       longest wait between reconnects (at least 500ms)
  --log-level info        debug, info, warn or error

Exit 0 on SIGINT/SIGTERM; 1 when the relay refuses the token or the target
name (401, one answer for both), when the address is not a relay's public
listener (404, a 2xx, a redirect), or another listen client for the target
took over; 2 on bad flags. See docs/LISTEN.md.
`,
  backup: `Usage: hookrelay backup [--config hookrelay.toml] --to PATH [--force]

Copies the store into PATH while a relay may be serving it: one consistent
snapshot (SQLite VACUUM INTO), which never takes the write lock, so acks are
not held up. Prints the path, size and event count. PATH is written 0600 and
appears only once complete; an existing PATH is replaced only with --force.
The copy is a working store: restore it by stopping the relay and putting it
in the store's place (remove the old -wal and -shm). See docs/OPERATIONS.md.
`,
  export: `Usage: hookrelay export [--config hookrelay.toml] [--since 7d] [--until T] [--source S] [--status failed]
                        [--out FILE [--force]]

Writes the stored events as NDJSON, oldest first, one event a line: format
"hookrelay-export/1", metadata, the request (headers as stored: names
lower-cased and sorted; bodyBase64) and the deliveries with their attempts
(and the request each attempt sent). Streams a page at a time.

  --since / --until   a duration back from now (2h, 7d) or an ISO 8601 date or
                      time, UTC unless it names its zone (2026-12-05 14:00)
  --source S          events of one source
  --status S          pending, delivering, delivered, failed, paused, cancelled or unrouted
  --out FILE          write FILE (0600, whole or not at all) instead of stdout
  --force             replace an existing FILE

Exit 0 once written; 1 when the config, the store or FILE cannot be used;
2 on bad flags.
`,
  import: `Usage: hookrelay import [--config hookrelay.toml] FILE

Stores the events of an export (or an archive's .ndjson.gz) again: same ids
and body bytes; ids already stored are skipped; open deliveries become due
now. Prints "imported N, skipped N, bad lines N"; each bad line is reported
as "line N: …" on stderr and skipped whole (exit 1). Safe while a relay serves
the store.
`,
  version: "Usage: hookrelay version\n\nPrints the version and the build: the commit it was built from and when (\"source\" when run from a checkout).\n",
};
