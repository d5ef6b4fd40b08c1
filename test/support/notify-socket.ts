/**
 * A unix datagram socket like systemd's notify socket (NOTIFY_SOCKET), to
 * read what a relay tells systemd. Node and Bun have no unix datagram
 * sockets: libc's, through bun:ffi.
 */
import { expect } from "bun:test";

/** A unix datagram socket bound to `name` ("@x": abstract), as systemd's notify socket is; recv() returns what arrived, or null. */
export function listenForNotify(name: string) {
  const { dlopen, FFIType, ptr } = require("bun:ffi") as typeof import("bun:ffi");
  const libc = dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  });
  const path = Buffer.from(name.startsWith("@") ? `\0${name.slice(1)}` : name);
  const address = Buffer.alloc(2 + path.length);
  address.writeUInt16LE(1, 0);
  path.copy(address, 2);
  const fd = libc.symbols.socket(1, 2, 0);
  expect(libc.symbols.bind(fd, ptr(address), address.length)).toBe(0);
  const buffer = Buffer.alloc(1024);
  const MSG_DONTWAIT = 0x40;
  return {
    recv: () => {
      const n = Number(libc.symbols.recv(fd, ptr(buffer), buffer.length, MSG_DONTWAIT));
      return n < 0 ? null : buffer.subarray(0, n).toString();
    },
    close: () => {
      libc.symbols.close(fd);
      libc.close();
    },
  };
}

