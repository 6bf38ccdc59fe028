import { lstat, mkdir, mkdtemp, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initSandbox, type InitSandbox } from '../../helpers/init-sandbox.js';
import { run } from '../../../src/util/run.js';
import { SYSTEM_TOOLS_DIR } from '../../../src/initramfs/init-script.js';

let sb: InitSandbox;
beforeAll(async () => {
  sb = await initSandbox();
});

/** A staged tree with one tool and one unit, a fake root and fresh /run stand-ins. */
async function fixture(rootInit: 'systemd' | 'sysvinit') {
  const dir = await mkdtemp(join(tmpdir(), 'system-tools-'));
  const tree = join(dir, 'tree');
  await mkdir(join(tree, 'bin'), { recursive: true });
  await mkdir(join(tree, 'systemd'));
  await writeFile(join(tree, 'bin/flashroot-hello'), '#!/run/flashroot/bin/sh\necho hello\n', { mode: 0o755 });
  await writeFile(join(tree, 'systemd/flashroot-hello.service'), '# flashroot-wanted-by: multi-user.target\n[Service]\nExecStart=/run/flashroot/bin/flashroot-hello\n');
  const root = join(dir, 'root');
  await mkdir(join(root, 'sbin'), { recursive: true });
  await mkdir(join(root, 'usr/local/sbin'), { recursive: true });
  if (rootInit === 'systemd') await symlink('/lib/systemd/systemd', join(root, 'sbin/init'));
  else await writeFile(join(root, 'sbin/init'), '', { mode: 0o755 });
  const vars = `FR_SYSTEM_TREE=${tree}; FR_SYSTEM_RUN=${dir}/run/flashroot; FR_SYSTEM_ROOT=${root}; FR_SYSTEMD_RUNTIME=${dir}/run/systemd/system`;
  return { dir, root, vars };
}

const exists = (p: string) => lstat(p).then(() => true, () => false);

describe('init: what flashroot leaves in the booted system', () => {
  it('copies nothing and changes nothing when no step registered a unit or a daemon', async () => {
    const f = await fixture('sysvinit');
    const r = await sb.run(`${f.vars}\nfr_step_system_tools; echo "via=$FR_ROOT_INIT_VIA"`);
    expect(r.stdout.trim()).toBe('via=');
    expect(await exists(join(f.dir, 'run'))).toBe(false);
  });

  it('on a systemd root: installs the registered unit with its wants link, links the tool into the root, exports the settings', async () => {
    const f = await fixture('systemd');
    const r = await sb.run(`${f.vars}\nFR_SYSTEM_UNITS=flashroot-hello.service\nfr_step_system_tools; echo "via=$FR_ROOT_INIT_VIA"`, { label: 'MYSTICK' });
    expect(r.stdout.trim()).toBe('via=');
    const units = join(f.dir, 'run/systemd/system');
    expect(await readFile(join(units, 'flashroot-hello.service'), 'utf8')).toContain('ExecStart=');
    expect(await readlink(join(units, 'multi-user.target.wants/flashroot-hello.service'))).toBe('../flashroot-hello.service');
    expect(await readlink(join(f.root, 'usr/local/sbin/flashroot-hello'))).toBe('/run/flashroot/bin/flashroot-hello');
    // The tools run on busybox of their own: the root may have no shell.
    expect((await lstat(join(f.dir, 'run/flashroot/bin/busybox'))).isFile()).toBe(true);
    const conf = await readFile(join(f.dir, 'run/flashroot/conf'), 'utf8');
    expect(conf).toMatch(/^FR_LABEL='MYSTICK'$/m);
    // Sourcing the exported settings gives the same values back.
    const back = await run('busybox', ['sh', '-c', `. ${join(f.dir, 'run/flashroot/conf')}; echo "$FR_LABEL"`]);
    expect(back.stdout.trim()).toBe('MYSTICK');
  });

  it('on another init: no units (no /run/systemd/system, which would claim systemd runs), the daemons start through start-daemons', async () => {
    const f = await fixture('sysvinit');
    await writeFile(join(f.root, 'usr/local/sbin/flashroot-hello'), 'the root owns this name\n');
    const r = await sb.run(`${f.vars}\nFR_SYSTEM_UNITS=flashroot-hello.service; FR_SYSTEM_DAEMONS=flashroot-hello\nfr_step_system_tools; echo "via=$FR_ROOT_INIT_VIA"`);
    expect(r.stdout.trim()).toBe('via=/run/flashroot/bin/start-daemons');
    expect(await exists(join(f.dir, 'run/systemd'))).toBe(false);
    expect((await readFile(join(f.dir, 'run/flashroot/daemons'), 'utf8')).trim()).toBe('flashroot-hello');
    expect(await readFile(join(f.root, 'usr/local/sbin/flashroot-hello'), 'utf8')).toBe('the root owns this name\n');
  });
});

describe('overlays/system', () => {
  it('is shellcheck clean', async () => {
    const r = await run('sh', ['-c', `shellcheck -s sh -S warning ${SYSTEM_TOOLS_DIR}bin/*`], { okExitCodes: [1] });
    expect(r.stdout).toBe('');
    expect(r.exitCode).toBe(0);
  });
});
