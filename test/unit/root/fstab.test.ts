import { describe, expect, it } from 'vitest';
import { fstabVerdict, parseFstabLine, rewriteCrypttab, rewriteFstab, swapFilesInFstab, swapFilesInProcSwaps } from '../../../src/root/fstab.js';

// As Debian's installer writes it, plus what users add by hand.
const INSTALLED = `# /etc/fstab: static file system information.
#
# <file system> <mount point>   <type>  <options>       <dump>  <pass>
# / was on /dev/sda2 during installation
UUID=0a3c5e1f-1111-4c2d-9e0f-1234567890ab /               ext4    errors=remount-ro 0       1
# /boot/efi was on /dev/sda1 during installation
UUID=ABCD-1234  /boot/efi       vfat    umask=0077      0       1
# swap was on /dev/sda3 during installation
UUID=77777777-2222-4c2d-9e0f-1234567890ab none            swap    sw              0       0
/swapfile none swap sw 0 0
/dev/sr0        /media/cdrom0   udf,iso9660 user,noauto     0       0
LABEL=data\t/srv/my\\040data\text4\tdefaults,nofail\t0\t2
PARTUUID=5e2a-01 /boot ext2 defaults 0 2
/dev/mapper/vg-home /home ext4 defaults 0 2
nas.local:/export/media /srv/media nfs4 ro,_netdev,x-systemd.automount 0 0
//nas.local/share /mnt/share cifs credentials=/etc/smb-cred,_netdev 0 0
user@host:/srv /mnt/ssh fuse.sshfs _netdev,IdentityFile=/root/.ssh/id 0 0
tmpfs /var/cache/build tmpfs size=512M,mode=1777 0 0
/srv/my\\040data/www /var/www none bind 0 0
proc /proc proc defaults 0 0
`;

describe('rewriteFstab', () => {
  const r = rewriteFstab(INSTALLED);
  const kept = r.text.split('\n').filter((l) => l && !l.startsWith('#'));

  it('comments out every entry naming a local disk, the root and swap, each after a reason line', () => {
    expect(r.neutralised.map((n) => parseFstabLine(n.line)?.file)).toEqual(['/', '/boot/efi', 'none', 'none', '/media/cdrom0', '/srv/my data', '/boot', '/home']);
    for (const n of r.neutralised) {
      const at = r.text.split('\n').indexOf(`#${n.line}`);
      expect(r.text.split('\n')[at - 1]).toBe(`# flashroot: ${n.why}`);
    }
  });

  it('keeps network filesystems, tmpfs, bind mounts and pseudo filesystems as they were', () => {
    expect(kept).toEqual([
      'nas.local:/export/media /srv/media nfs4 ro,_netdev,x-systemd.automount 0 0',
      '//nas.local/share /mnt/share cifs credentials=/etc/smb-cred,_netdev 0 0',
      'user@host:/srv /mnt/ssh fuse.sshfs _netdev,IdentityFile=/root/.ssh/id 0 0',
      'tmpfs /var/cache/build tmpfs size=512M,mode=1777 0 0',
      '/srv/my\\040data/www /var/www none bind 0 0',
      'proc /proc proc defaults 0 0',
    ]);
  });

  it('leaves comments, blank lines and the file unchanged when there is nothing to do', () => {
    const text = '# nothing local\n\nserver:/x /x nfs defaults 0 0\n';
    expect(rewriteFstab(text)).toEqual({ text, neutralised: [] });
  });

  it('gives the reason that matters for each kind', () => {
    expect(fstabVerdict({ spec: 'UUID=1', file: '/', vfstype: 'ext4', options: [] })).toMatch(/overlay/);
    expect(fstabVerdict({ spec: '/swapfile', file: 'none', vfstype: 'swap', options: ['sw'] })).toMatch(/swap file/);
    expect(fstabVerdict({ spec: 'LABEL=x', file: '/x', vfstype: 'ext4', options: [] })).toMatch(/90 s/);
    expect(fstabVerdict({ spec: 'overlay', file: '/', vfstype: 'overlay', options: [] })).toMatch(/overlay/);
  });

  it('undoes \\040 escapes when reading fields', () => {
    expect(parseFstabLine('LABEL=a\\040b /my\\040disk ext4 rw 0 2')).toEqual({ spec: 'LABEL=a b', file: '/my disk', vfstype: 'ext4', options: ['rw'] });
  });
});

describe('swap files', () => {
  it('come from fstab swap entries that name a file, not a device', () => {
    expect(swapFilesInFstab(INSTALLED)).toEqual(['/swapfile']);
    expect(swapFilesInFstab('/var/swap\\040file none swap sw 0 0\n')).toEqual(['/var/swap file']);
  });

  it('come from /proc/swaps entries of type file', () => {
    const procSwaps = [
      'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority',
      '/dev/sda3                               partition\t8388604\t\t0\t\t-2',
      '/swapfile                               file\t\t1048572\t\t0\t\t-3',
      '/var/my\\040swap                         file\t\t1048572\t\t0\t\t-4',
    ].join('\n');
    expect(swapFilesInProcSwaps(procSwaps)).toEqual(['/swapfile', '/var/my swap']);
  });
});

describe('rewriteCrypttab', () => {
  it('comments out volumes on local disks and keeps container files inside the root', () => {
    const text = '# <target name> <source device> <key file> <options>\nsda3_crypt UUID=9f0e-1 none luks,discard\nvault /srv/vault.img /etc/keys/vault luks\n';
    const r = rewriteCrypttab(text);
    expect(r.neutralised.map((n) => n.line)).toEqual(['sda3_crypt UUID=9f0e-1 none luks,discard']);
    expect(r.text).toContain('\nvault /srv/vault.img /etc/keys/vault luks\n');
    expect(r.text).toContain('#sda3_crypt UUID=9f0e-1 none luks,discard');
  });
});
