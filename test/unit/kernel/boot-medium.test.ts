import { afterAll, describe, expect, it } from 'vitest';
import { KernelError } from '../../../src/errors.js';
import { checkBootMedium } from '../../../src/kernel/features.js';
import { makeModulesDir, removeModulesDirs } from './fixtures.js';

afterAll(removeModulesDirs);

const USB = {
  'kernel/drivers/usb/host/xhci-hcd.ko': [],
  'kernel/drivers/usb/host/xhci-pci.ko': ['kernel/drivers/usb/host/xhci-hcd.ko'],
  'kernel/drivers/usb/storage/usb-storage.ko': [],
  'kernel/drivers/usb/storage/uas.ko': ['kernel/drivers/usb/storage/usb-storage.ko'],
};

describe('checkBootMedium: the kernel must read the USB stick it boots from', () => {
  it('accepts USB host and mass storage as modules', async () => {
    const f = await checkBootMedium(await makeModulesDir('6.1.0-usb', { dep: USB }));
    expect(f.provided).toEqual({ xhci_hcd: 'module', usb_storage: 'module', uas: 'module' });
  });

  it('accepts them built in (modules.builtin or CONFIG_X=y), and EHCI alone for the host side', async () => {
    const dir = await makeModulesDir('6.1.0-usb-builtin', { dep: {}, builtin: ['kernel/drivers/usb/host/ehci-hcd.ko'], config: 'CONFIG_USB_STORAGE=y\n' });
    expect((await checkBootMedium(dir)).provided).toEqual({ ehci_hcd: 'builtin', usb_storage: 'builtin' });
  });

  it("refuses a kernel without any USB driver (Debian's cloud kernel), naming both and the kernel to use", async () => {
    const dir = await makeModulesDir('6.1.0-cloud-amd64', { dep: { 'kernel/drivers/block/virtio_blk.ko': [] } });
    const err = await checkBootMedium(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).message).toMatch(/6\.1\.0-cloud-amd64 cannot read a USB stick: it lacks a USB host controller driver \(xhci_hcd\/CONFIG_USB_XHCI_HCD or ehci_hcd\/CONFIG_USB_EHCI_HCD\) and USB mass storage \(usb_storage/);
    expect((err as KernelError).hint).toMatch(/linux-image-amd64/);
  });

  it('names only what is missing', async () => {
    const dir = await makeModulesDir('6.1.0-nostorage', { dep: { 'kernel/drivers/usb/host/xhci-hcd.ko': [] } });
    await expect(checkBootMedium(dir)).rejects.toThrow(/lacks USB mass storage \(usb_storage\/CONFIG_USB_STORAGE or uas\/CONFIG_USB_UAS\), neither/);
  });
});
