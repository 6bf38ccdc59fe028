import { describe, expect, it } from 'vitest';
import { parseMountPoints } from '../../../src/root/capture.js';

describe('parseMountPoints', () => {
  it('reads field 5 of mountinfo and undoes its octal escapes', () => {
    const mountinfo = [
      '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
      '23 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw',
      '40 22 0:40 / /srv/my\\040disk rw - tmpfs tmpfs rw',
      '',
    ].join('\n');
    expect(parseMountPoints(mountinfo)).toEqual(['/', '/dev', '/srv/my disk']);
  });
});
