/**
 * TLS on both listeners: the BREAKERBOX_TLS_* variables, and the PEM files
 * they name, read and checked at start.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { documented } from "./env-docs.js";
import { envText, type RawEnv } from "./env-vars.js";
import { errorMessage, oneLine } from "./problem-text.js";

/**
 * TLS on both listeners (BREAKERBOX_TLS_CERT_FILE and BREAKERBOX_TLS_KEY_FILE,
 * optionally BREAKERBOX_TLS_CLIENT_CA_FILE). The PEM texts were read and
 * checked at start: the certificate parses, the key parses and belongs to it.
 */
export interface TlsConfig {
  /** PEM certificate chain, the server's own certificate first. */
  cert: string;
  /** PEM private key of that certificate. */
  key: string;
  /** PEM CA bundle: when set, clients must present a certificate it signed (mutual TLS). */
  clientCa?: string;
  certFile: string;
  keyFile: string;
  clientCaFile?: string;
}

/** The TLS variables, as entries of the environment schema (env.ts), so they count as known. */
export const TLS_ENV_SHAPE = {
  BREAKERBOX_TLS_CERT_FILE: documented(envText, {
    group: "access",
    default: "unset (plaintext)",
    accepted: "path to a PEM certificate chain",
    meaning:
      "TLS on both listeners (gRPC over TLS; HTTPS, still HTTP/1.1, on the HTTP port); plaintext clients are then refused. Set together with `BREAKERBOX_TLS_KEY_FILE`. Read once at start: renewing is a (rolling) restart. See [operations.md](operations.md#tls).",
  }),
  BREAKERBOX_TLS_KEY_FILE: documented(envText, {
    group: "access",
    default: "unset",
    accepted: "path to the certificate's PEM private key (unencrypted)",
    meaning: "Checked at start: it must parse and belong to the certificate.",
  }),
  BREAKERBOX_TLS_CLIENT_CA_FILE: documented(envText, {
    group: "access",
    default: "unset",
    accepted: "path to a PEM CA bundle; needs the two above",
    meaning:
      "Mutual TLS: clients on both ports must present a certificate signed by one of these CAs. Independent of API keys: use either or both.",
  }),
};

/** A TLS file's PEM text, or the problem naming its variable. */
function readPem(variable: string, file: string, readFile: (path: string) => string): { text: string } | { problem: string } {
  try {
    return { text: readFile(file) };
  } catch (e) {
    return { problem: `${variable}: cannot read ${file}: ${oneLine(errorMessage(e))}` };
  }
}

/**
 * The TLS settings, read and checked now so that a bad file stops the start
 * with its variable named, rather than failing the first handshake.
 */
function tlsConfig(
  vars: { BREAKERBOX_TLS_CERT_FILE?: string | undefined; BREAKERBOX_TLS_KEY_FILE?: string | undefined; BREAKERBOX_TLS_CLIENT_CA_FILE?: string | undefined },
  readFile: (path: string) => string,
): { tls?: TlsConfig; problems: string[] } {
  const certFile = vars.BREAKERBOX_TLS_CERT_FILE;
  const keyFile = vars.BREAKERBOX_TLS_KEY_FILE;
  const caFile = vars.BREAKERBOX_TLS_CLIENT_CA_FILE;
  if (certFile === undefined && keyFile === undefined) {
    return caFile === undefined
      ? { problems: [] }
      : { problems: ["BREAKERBOX_TLS_CLIENT_CA_FILE: needs BREAKERBOX_TLS_CERT_FILE and BREAKERBOX_TLS_KEY_FILE (client certificates are checked only over TLS)"] };
  }
  if (certFile === undefined || keyFile === undefined) {
    const [missing, present] = certFile === undefined ? ["BREAKERBOX_TLS_CERT_FILE", "BREAKERBOX_TLS_KEY_FILE"] : ["BREAKERBOX_TLS_KEY_FILE", "BREAKERBOX_TLS_CERT_FILE"];
    return { problems: [`${missing}: is required with ${present}; set both (TLS on) or neither (plaintext)`] };
  }
  const problems: string[] = [];
  const cert = readPem("BREAKERBOX_TLS_CERT_FILE", certFile, readFile);
  const key = readPem("BREAKERBOX_TLS_KEY_FILE", keyFile, readFile);
  const ca = caFile === undefined ? undefined : readPem("BREAKERBOX_TLS_CLIENT_CA_FILE", caFile, readFile);
  for (const read of [cert, key, ca]) if (read !== undefined && "problem" in read) problems.push(read.problem);
  let x509: X509Certificate | undefined;
  if ("text" in cert) {
    try {
      x509 = new X509Certificate(cert.text);
    } catch (e) {
      problems.push(`BREAKERBOX_TLS_CERT_FILE: ${certFile} is not a PEM certificate: ${oneLine(errorMessage(e))}`);
    }
  }
  if ("text" in key) {
    try {
      const privateKey = createPrivateKey(key.text);
      if (x509 !== undefined && !x509.checkPrivateKey(privateKey)) {
        problems.push(`BREAKERBOX_TLS_KEY_FILE: the key in ${keyFile} does not belong to the certificate in ${certFile}`);
      }
    } catch (e) {
      problems.push(`BREAKERBOX_TLS_KEY_FILE: ${keyFile} is not a PEM private key (or is encrypted): ${oneLine(errorMessage(e))}`);
    }
  }
  if (ca !== undefined && "text" in ca) {
    try {
      new X509Certificate(ca.text);
    } catch (e) {
      problems.push(`BREAKERBOX_TLS_CLIENT_CA_FILE: ${caFile} is not a PEM certificate: ${oneLine(errorMessage(e))}`);
    }
  }
  if (problems.length > 0 || !("text" in cert) || !("text" in key)) return { problems };
  const tls: TlsConfig = { cert: cert.text, key: key.text, certFile, keyFile };
  if (ca !== undefined && "text" in ca && caFile !== undefined) {
    tls.clientCa = ca.text;
    tls.clientCaFile = caFile;
  }
  return { tls, problems };
}

/**
 * The TLS settings of `env`: read apart from the environment schema, so a
 * bad port does not hide a bad certificate.
 */
export function tlsFromEnv(env: RawEnv, readFile: (path: string) => string): { tls?: TlsConfig; problems: string[] } {
  const vars = {
    BREAKERBOX_TLS_CERT_FILE: envText.parse(env["BREAKERBOX_TLS_CERT_FILE"]),
    BREAKERBOX_TLS_KEY_FILE: envText.parse(env["BREAKERBOX_TLS_KEY_FILE"]),
    BREAKERBOX_TLS_CLIENT_CA_FILE: envText.parse(env["BREAKERBOX_TLS_CLIENT_CA_FILE"]),
  };
  return tlsConfig(vars, readFile);
}
