#!/usr/bin/env bash
# What the benchmark needs beyond scripts/setup.sh: mmdebstrap, to make the comparison root and the
# competitors' chroots. dracut and live-boot are never installed here: they hook into the host's own
# initramfs generation, so each lives in its own chroot (bench/chroots.ts).
set -euo pipefail

BENCH_PACKAGES=(
  mmdebstrap   # Debian minbase root and the live-boot / dracut chroots
)

missing=()
for p in "${BENCH_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bench setup: installing Debian packages: ${missing[*]}"
  if [[ $EUID -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  # Other jobs on the machine may hold the dpkg lock for a while: wait for it instead of failing.
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
