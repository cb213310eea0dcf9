/**
 * Test certificates made at test time with the openssl command line (present
 * on Debian): a CA, a server certificate it signed for localhost and
 * 127.0.0.1, and a client certificate it signed (for mutual TLS). EC P-256
 * keys, so generating them takes milliseconds.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCerts {
  dir: string;
  /** Paths of the PEM files. */
  files: { ca: string; caKey: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string };
  /** The same files' contents. */
  ca: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  /** Deletes the directory. */
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** Signs a new key's certificate with the CA; `ext` is an openssl extension file body. */
function issue(dir: string, name: string, subject: string, ext: string): void {
  openssl(["req", ...EC, "-subj", subject, "-keyout", `${name}.key`, "-out", `${name}.csr`], dir);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(
    ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", `${name}.ext`, "-out", `${name}.pem`],
    dir,
  );
}

/** Makes a fresh CA, server and client certificate in a new temp directory. */
export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "breakerbox-certs-"));
  openssl(["req", "-x509", ...EC, "-days", "2", "-subj", "/CN=breakerbox test CA", "-keyout", "ca.key", "-out", "ca.pem"], dir);
  issue(dir, "server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  issue(dir, "client", "/CN=test-agent", "extendedKeyUsage=clientAuth\n");
  const files = {
    ca: join(dir, "ca.pem"),
    caKey: join(dir, "ca.key"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.pem"),
    clientKey: join(dir, "client.key"),
  };
  return {
    dir,
    files,
    ca: readFileSync(files.ca),
    serverCert: readFileSync(files.serverCert),
    serverKey: readFileSync(files.serverKey),
    clientCert: readFileSync(files.clientCert),
    clientKey: readFileSync(files.clientKey),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
