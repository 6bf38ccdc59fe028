import { describe, expect, it } from 'vitest';
import { canonicalQuery, objectUrl, parseS3Url, signV4 } from '../../../src/network/s3.js';

describe('S3 Signature Version 4', () => {
  it("matches AWS's documented example (GET /test.txt with a Range header)", () => {
    const auth = signV4(
      'GET',
      new URL('https://examplebucket.s3.amazonaws.com/test.txt'),
      {
        host: 'examplebucket.s3.amazonaws.com',
        range: 'bytes=0-9',
        'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        'x-amz-date': '20130524T000000Z',
      },
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', region: 'us-east-1' },
    );
    expect(auth).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });

  it("matches AWS's documented example with a query string (GET /?max-keys=2&prefix=J)", () => {
    const empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    const auth = signV4(
      'GET',
      new URL('https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J'),
      { host: 'examplebucket.s3.amazonaws.com', 'x-amz-content-sha256': empty, 'x-amz-date': '20130524T000000Z' },
      empty,
      { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', region: 'us-east-1' },
    );
    expect(auth).toMatch(/Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7$/);
  });

  it('canonicalises a query: sorted, RFC 3986-encoded, + kept literal, bare names given an empty value', () => {
    expect(canonicalQuery(new URL('http://h/b?prefix=a%2Fb%20c&list-type=2&delimiter=%2F&acl'))).toBe('acl=&delimiter=%2F&list-type=2&prefix=a%2Fb%20c');
    expect(canonicalQuery(new URL("http://h/b?prefix=a+b!*'()"))).toBe('prefix=a%2Bb%21%2A%27%28%29');
    expect(canonicalQuery(new URL('http://h/b'))).toBe('');
  });

  it('parses s3://BUCKET/PREFIX/ and builds path-style URLs', () => {
    expect(parseS3Url('s3://boot-images/sticks/')).toEqual({ bucket: 'boot-images', prefix: 'sticks/' });
    expect(parseS3Url('s3://boot-images/')).toEqual({ bucket: 'boot-images', prefix: '' });
    expect(() => parseS3Url('s3://boot-images/sticks')).toThrow(/ending in \//);
    expect(objectUrl('http://127.0.0.1:9000/', 'b', 'p/root-1.sqfs').href).toBe('http://127.0.0.1:9000/b/p/root-1.sqfs');
  });
});
