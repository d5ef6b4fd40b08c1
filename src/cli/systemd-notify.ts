/**
 * systemd's readiness notification (sd_notify). Under `Type=notify` the unit
 * is started only once the relay says READY=1, after it listens: `systemctl
 * start` returns when it can take webhooks, and a `systemctl reload` issued
 * meanwhile waits for it, where a SIGHUP in the relay's first milliseconds
 * (before any of its code runs) would end the process. The message is one
 * datagram to the unix socket systemd names in NOTIFY_SOCKET (an abstract one
 * when it starts with "@"); outside systemd there is none and this does
 * nothing. Node and Bun have no unix datagram sockets, so libc's are called.
 */

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
/** sockaddr_un: a 2-byte family, then up to 108 bytes of path. */
const SUN_PATH_MAX = 108;

/**
 * Sends `state` ("READY=1", "STOPPING=1", …) to systemd; true when it was
 * sent, false when there is no NOTIFY_SOCKET; throws when it cannot be sent
 * (systemd would then stop a Type=notify unit that never said it is ready).
 */
export function notifySystemd(state: string, env: Record<string, string | undefined> = process.env): boolean {
  const socketPath = env.NOTIFY_SOCKET;
  if (!socketPath) return false;
  if (process.platform !== "linux") return false;
  const path = Buffer.from(socketPath.startsWith("@") ? `\0${socketPath.slice(1)}` : socketPath, "utf8");
  if (path.length > SUN_PATH_MAX) throw new Error(`NOTIFY_SOCKET is longer than a unix socket path may be (${path.length} bytes)`);
  const address = Buffer.alloc(2 + path.length);
  address.writeUInt16LE(AF_UNIX, 0);
  path.copy(address, 2);
  const message = Buffer.from(state, "utf8");
  // Loaded here: only a relay under systemd pays for bun:ffi.
  const { dlopen, FFIType, ptr } = require("bun:ffi") as typeof import("bun:ffi");
  const libc = dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  });
  try {
    const fd = libc.symbols.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error("cannot open a unix datagram socket to tell systemd");
    try {
      const sent = Number(libc.symbols.sendto(fd, ptr(message), message.length, MSG_NOSIGNAL, ptr(address), address.length));
      if (sent !== message.length) throw new Error(`cannot tell systemd ${state} through NOTIFY_SOCKET ${socketPath}`);
    } finally {
      libc.symbols.close(fd);
    }
  } finally {
    libc.close();
  }
  return true;
}
