import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: "pipe" });
}

export interface Issued {
  certFile: string;
  keyFile: string;
}

/** A self-signed CA (EC P-256) in `dir`. */
export function makeCa(dir: string, name: string): Issued {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", `/CN=${name}`, "-keyout", keyFile, "-out", certFile]);
  return { certFile, keyFile };
}

/** A certificate for `subject` (e.g. "/CN=device-1") with the given SANs, signed by `ca`. */
export function issue(dir: string, ca: Issued, name: string, subject: string, sans: string[], usage: "serverAuth" | "clientAuth"): Issued {
  const keyFile = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const certFile = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, `${sans.length > 0 ? `subjectAltName=${sans.join(",")}\n` : ""}extendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`);
  openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", subject, "-keyout", keyFile, "-out", csr]);
  openssl(["x509", "-req", "-in", csr, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", certFile]);
  return { certFile, keyFile };
}
