/**
 * A throwaway CA and a server certificate it signed for the test web server, valid for the
 * addresses the host and the QEMU guest use (127.0.0.1, 10.0.2.2). Go (rclone) wants the address
 * in subjectAltName, not in the CN.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../src/util/run.js';
import type { TlsFiles } from './nginx.js';

export interface TestCa extends TlsFiles {
  /** The CA certificate (PEM), for --ca-cert. */
  ca: string;
}

export async function makeTestCa(dir: string): Promise<TestCa> {
  const f = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=flashroot test CA', '-keyout', f('ca.key'), '-out', f('ca.pem')]);
  await run('openssl', ['req', ...ec, '-subj', '/CN=flashroot test server', '-keyout', f('server.key'), '-out', f('server.csr')]);
  await writeFile(f('server.ext'), 'subjectAltName = IP:10.0.2.2, IP:127.0.0.1\n');
  await run('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('server.ext'), '-out', f('server.pem')]);
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}
