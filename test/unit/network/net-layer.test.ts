import { describe, expect, it } from 'vitest';
import { layerCompressor } from '../../../src/network/net-layer.js';

describe("the network layer's compressor", () => {
  it("is lz4 unless the kernel's config says its squashfs lacks it", () => {
    expect(layerCompressor(true, 'xz')).toBe('lz4');
    expect(layerCompressor(undefined, 'xz')).toBe('lz4');
    expect(layerCompressor(false, 'xz')).toBe('xz');
  });
});
