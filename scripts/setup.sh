#!/usr/bin/env bash
# Installs everything flashroot, its tests and its demo need on Debian 12, then the npm
# dependencies. Idempotent and quick when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  squashfs-tools        # mksquashfs: the root filesystem image
  syslinux syslinux-common mtools  # BIOS boot loader, installed into the FAT without mounting
  busybox-static        # the initramfs userland and the demo root
  linux-image-amd64     # a kernel + modules to build sticks for and boot in tests
  kmod cpio zstd xz-utils
  systemd-boot-efi      # UEFI loader and the UKI stub
  sbsigntool openssl    # Secure Boot signing (openssl: test and user keys)
  faketime              # reproducible signing: sbsign stamps the signing time
  binutils              # objdump, to cross-check our PE writer
  ovmf                  # UEFI firmware for QEMU
  qemu-system-x86 qemu-utils
  shellcheck            # the generated init is linted
  dosfstools            # fsck.fat, to check the FAT32 we write
  file fdisk          # file: is busybox static; sfdisk: tests read our partition tables
  strace                # tests prove a refused drive is never opened
  gcc libc6-dev         # tests: build a tiny binary with a $ORIGIN runpath for the ELF closure
  e2fsprogs             # mke2fs -d: the read-write comparison root of endurance --measure
  python3               # tests: its XML parser checks the endurance SVG
  cryptsetup-bin dmsetup  # network lowers: dm-verity tree at build time, dm table at boot
  signify-openbsd       # channels: publish signs manifests, the init checks them (Ed25519)
  httpfs2               # network lowers: the HTTP range-request FUSE client staged into the initramfs
  rclone fuse3          # --http-client rclone: the FUSE client (and its fusermount3) on the stick
  nbdkit nbd-client curl  # https:// lowers: the curl plugin's NBD server, the NBD attach tool, the manifest fetcher
  nbdkit-plugin-perl libwww-curl-perl  # signed S3: nbdkit runs flashroot's S3 reader, libcurl signs its reads
  nginx-light           # tests: the web server network images are booted from
  sshfs openssh-client  # sshfs lowers: the FUSE client and ssh, staged into the initramfs
  openssh-server        # tests: the sshd sshfs lowers are booted from
  s3fs                  # s3fs lowers: the FUSE client staged into the initramfs
  mmdebstrap            # tests and bench: Debian roots that look installed, the bench's roots and chroots
)

# shellcheck source=scripts/debian-packages.sh
. scripts/debian-packages.sh
ensure_debian_packages setup "${DEBIAN_PACKAGES[@]}"

# npm ci only when the lockfile changed since the last install.
stamp=node_modules/.flashroot-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
