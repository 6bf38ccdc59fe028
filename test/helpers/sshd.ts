/**
 * OpenSSH's sshd on 127.0.0.1 with a generated host key and a generated client key, as the
 * server of sshfs lowers in tests (10.0.2.2 from the QEMU guest).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { run, start } from '../../src/util/run.js';

export interface Sshd {
  port: number;
  /** Client private key the stick logs in with. */
  clientKey: string;
  /** known_hosts line for [10.0.2.2]:port, as the guest sees the server. */
  knownHosts: string;
  stop(): Promise<void>;
}

export async function startSshd(dir: string, port: number): Promise<Sshd> {
  await mkdir(dir, { recursive: true });
  // sshd refuses to start without its privilege separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'flashroot-test-host', '-f', hostKey]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'flashroot-test-client', '-f', clientKey]);
  await writeFile(join(dir, 'authorized_keys'), await readFile(`${clientKey}.pub`));
  const knownHosts = join(dir, 'known_hosts');
  await writeFile(knownHosts, `[10.0.2.2]:${port} ${(await readFile(`${hostKey}.pub`, 'utf8')).trim()}\n`);
  const conf = join(dir, 'sshd_config');
  await writeFile(
    conf,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );
  const proc = start('/usr/sbin/sshd', ['-D', '-e', '-f', conf]);
  for (let i = 0; i < 50; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => (s.end(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    clientKey,
    knownHosts,
    stop: async () => {
      proc.kill('SIGTERM');
      await proc.exited.catch(() => undefined);
    },
  };
}
