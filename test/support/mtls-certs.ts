/**
 * Certificates for mTLS tests, made with `openssl` in a temp dir: a private
 * CA, a server certificate for 127.0.0.1 and localhost, and a client
 * certificate, both signed by the CA. Files and PEM text are returned; the
 * caller removes `dir`.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Paths and PEM text of the CA, the server's and the client's certificate and key. */
export interface MtlsCerts {
  dir: string;
  files: { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string };
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

function openssl(dir: string, args: string[]): void {
  const p = Bun.spawnSync(["openssl", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed:\n${p.stderr.toString()}`);
}

/** Makes a CA and a server and a client certificate signed by it (RSA 2048, valid two days). */
export function makeMtlsCerts(): MtlsCerts {
  const dir = mkdtempSync(join(tmpdir(), "hookrelay-mtls-"));
  openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=hookrelay test CA"]);
  const signed = (name: string, subject: string, extensions: string) => {
    writeFileSync(join(dir, `${name}.ext`), `${extensions}\n`);
    openssl(dir, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject]);
    openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`]);
  };
  signed("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
  signed("client", "/CN=hookrelay", "extendedKeyUsage=clientAuth");
  const files = {
    ca: join(dir, "ca.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.pem"),
    clientKey: join(dir, "client.key"),
  };
  const read = (f: string) => readFileSync(f, "utf8");
  return {
    dir,
    files,
    ca: read(files.ca),
    serverCert: read(files.serverCert),
    serverKey: read(files.serverKey),
    clientCert: read(files.clientCert),
    clientKey: read(files.clientKey),
  };
}

/** An https server on 127.0.0.1:0 that requires a client certificate signed by the CA; records each request's headers. */
export function mtlsServer(certs: MtlsCerts) {
  const received: Headers[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true, rejectUnauthorized: true },
    fetch(req) {
      received.push(req.headers);
      return new Response("ok");
    },
  });
  return { server, port: server.port, received };
}
