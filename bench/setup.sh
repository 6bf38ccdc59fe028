#!/usr/bin/env bash
# What the benchmark needs beyond scripts/setup.sh: mmdebstrap, to make the comparison root and the
# competitors' chroots. dracut and live-boot are never installed here: they hook into the host's own
# initramfs generation, so each lives in its own chroot (bench/chroots.ts).
set -euo pipefail

BENCH_PACKAGES=(
  mmdebstrap   # Debian minbase root and the live-boot / dracut chroots
)

# shellcheck source=scripts/debian-packages.sh
. "$(dirname "$0")/../scripts/debian-packages.sh"
ensure_debian_packages "bench setup" "${BENCH_PACKAGES[@]}"
