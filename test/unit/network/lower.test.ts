import { describe, expect, it } from 'vitest';
import { imageUrl, lowerProblem, parseLower } from '../../../src/network/lower.js';
import { parseBuildOptions } from '../../../src/pipeline/options.js';

const SHA = 'ab'.repeat(32);

describe('--lower values', () => {
  it('accepts local, http and https URLs', () => {
    expect(lowerProblem('local')).toBeUndefined();
    expect(lowerProblem('http://10.0.2.2:8080/images/')).toBeUndefined();
    expect(lowerProblem('https://boot.example/images/')).toBeUndefined();
    expect(parseLower('https://boot.example/images/')).toEqual({ kind: 'image', transport: 'nbdkit', url: 'https://boot.example/images/' });
    expect(parseLower('https://boot.example/images/', { httpClient: 'rclone' })).toEqual({ kind: 'image', transport: 'nbdkit', url: 'https://boot.example/images/' });
    expect(parseLower('http://boot.example/images/')).toEqual({ kind: 'image', transport: 'httpfs2', url: 'http://boot.example/images/' });
    expect(parseLower('http://boot.example/images/', { httpClient: 'rclone' })).toEqual({ kind: 'image', transport: 'rclone-http', url: 'http://boot.example/images/' });
    expect(lowerProblem(`http://boot.example/root-${SHA}.sqfs`)).toBeUndefined();
  });

  it('refuses unknown kinds and values that are not URLs', () => {
    expect(lowerProblem('ftp://x/')).toMatch(/unknown lower kind/);
    expect(lowerProblem('toram')).toMatch(/neither 'local' nor a URL/);
  });

  it('accepts s3fs://BUCKET/PREFIX/ (a tree: always a prefix), which needs --endpoint', () => {
    expect(lowerProblem('s3fs://boot/roots/v1/')).toBeUndefined();
    expect(lowerProblem('s3fs://boot/')).toBeUndefined();
    expect(lowerProblem('s3fs://boot/roots/v1')).toMatch(/s3fs:\/\/BUCKET\/PREFIX\/ \(ending in \/\)/);
    expect(parseLower('s3fs://boot/roots/v1/', { endpoint: 'http://10.0.2.2:9000' })).toEqual({ kind: 's3fs', url: 's3fs://boot/roots/v1/' });
    expect(() => parseBuildOptions({ lower: 's3fs://boot/roots/v1/' })).toThrow(/--endpoint: required with --lower s3:\/\/… or s3fs:/);
    expect(() => parseBuildOptions({ lower: 's3fs://boot/roots/v1/', endpoint: 'http://10.0.2.2:9000', signedReads: true })).not.toThrow();
  });

  it('accepts sshfs://USER@HOST[:PORT]/PATH and nothing vaguer', () => {
    expect(lowerProblem('sshfs://root@10.0.2.2:2222/srv/root')).toBeUndefined();
    expect(lowerProblem('sshfs://10.0.2.2/srv/root')).toMatch(/USER@HOST/);
    expect(lowerProblem('sshfs://root@10.0.2.2/')).toMatch(/USER@HOST/);
    expect(lowerProblem('sshfs://root:pw@10.0.2.2/srv')).toMatch(/--ssh-key/);
  });

  it('refuses URLs the boot shell could mangle or that would leak credentials', () => {
    expect(lowerProblem("http://h/a'b/")).toMatch(/characters/);
    expect(lowerProblem('http://user:pw@h/')).toMatch(/readable by every user/);
    expect(lowerProblem('https://user:pw@h/')).toMatch(/readable by every user/);
    expect(lowerProblem('http://h/x?y=1')).toMatch(/query/);
  });

  it('names the image inside a directory URL, keeps a full URL', () => {
    expect(imageUrl({ url: 'http://h/img/' }, SHA)).toBe(`http://h/img/root-${SHA}.sqfs`);
    expect(imageUrl({ url: 'http://h/img/mine.sqfs' }, SHA)).toBe('http://h/img/mine.sqfs');
  });

  it('reports a bad --lower with the other build options', () => {
    const err = (() => {
      try {
        return parseBuildOptions({ lower: 'ftp://b/p/', label: 'lower' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/--lower: unknown lower kind 'ftp:\/\/'/);
    expect((err as Error).message).toMatch(/--label:/);
  });

  it('boots s3://BUCKET/PREFIX/ from --endpoint, which it requires: public-read as a web object (http or https), private signed by the S3 reader in nbdkit', () => {
    expect(lowerProblem('s3://boot/sticks/')).toBeUndefined();
    expect(lowerProblem(`s3://boot/sticks/root-${SHA}.sqfs`)).toBeUndefined();
    expect(lowerProblem('s3://B/')).toMatch(/s3:\/\/BUCKET\/PREFIX\//);
    expect(parseLower('s3://boot/sticks/', { endpoint: 'http://10.0.2.2:9000' })).toEqual({ kind: 'image', transport: 'httpfs2', url: 'http://10.0.2.2:9000/boot/sticks/' });
    expect(parseLower('s3://boot/sticks/', { endpoint: 'http://10.0.2.2:9000', signedReads: true })).toEqual({
      kind: 'image',
      transport: 'nbdkit-s3',
      url: 's3://boot/sticks/',
      s3: { endpoint: 'http://10.0.2.2:9000', signed: true },
    });
    expect(parseLower('s3://boot/sticks/', { endpoint: 'https://s3.example' })).toEqual({ kind: 'image', transport: 'nbdkit', url: 'https://s3.example/boot/sticks/' });
    expect(parseLower('s3://boot/sticks/', { endpoint: 'https://s3.example', signedReads: true })).toMatchObject({ transport: 'nbdkit-s3', s3: { endpoint: 'https://s3.example', signed: true } });
    expect(() => parseBuildOptions({ lower: 's3://boot/sticks/' })).toThrow(/--endpoint: required with --lower s3:/);
    expect(() => parseBuildOptions({ lower: 'http://b/p/', signedReads: true })).toThrow(/--signed-reads: only used with an S3 lower/);
    expect(() => parseBuildOptions({ lower: 's3://boot/sticks/', endpoint: 'ftp://s3.example' })).toThrow(/--endpoint:/);
  });

  it('takes --http-client only where httpfs2 would read the image: plain http://, or a public bucket behind an http:// endpoint', () => {
    expect(parseBuildOptions({ lower: 'http://b/p/', httpClient: 'rclone' }).httpClient).toBe('rclone');
    expect(parseBuildOptions({ lower: 's3://boot/p/', endpoint: 'http://s3.example', httpClient: 'rclone' }).httpClient).toBe('rclone');
    expect(parseBuildOptions({ lower: 'http://b/p/' }).httpClient).toBeUndefined();
    for (const o of [{ lower: 'https://b/p/' }, { lower: 'local' }, { lower: 's3://boot/p/', endpoint: 'http://s3.example', signedReads: true }]) {
      expect(() => parseBuildOptions({ ...o, httpClient: 'httpfs2' })).toThrow(/--http-client: only for images read over plain http:/);
    }
    expect(() => parseBuildOptions({ lower: 'http://b/p/', httpClient: 'curl' as 'rclone' })).toThrow(/--http-client:/);
  });

  it('takes --ca-cert only where the stick speaks TLS: an https lower or an https S3 endpoint', () => {
    expect(parseBuildOptions({ lower: 'https://b/p/', caCert: 'ca.pem' }).caCert).toBe('ca.pem');
    expect(parseBuildOptions({ lower: 's3://boot/p/', endpoint: 'https://s3.example', caCert: 'ca.pem' }).caCert).toBe('ca.pem');
    expect(parseBuildOptions({ lower: 's3fs://boot/p/', endpoint: 'https://s3.example', caCert: 'ca.pem' }).caCert).toBe('ca.pem');
    expect(() => parseBuildOptions({ lower: 'http://b/p/', caCert: 'ca.pem' })).toThrow(/--ca-cert: only used with --lower https:/);
    expect(() => parseBuildOptions({ lower: 's3://boot/p/', endpoint: 'http://s3.example', caCert: 'ca.pem' })).toThrow(/--ca-cert: only used/);
  });
});
