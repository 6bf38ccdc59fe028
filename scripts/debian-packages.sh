# shellcheck shell=bash
# Sourced by scripts/setup.sh and bench/setup.sh: installs the Debian packages given that are not
# installed yet, and nothing when all are.
# Usage: ensure_debian_packages LABEL PACKAGE...
ensure_debian_packages() {
  local label=$1 p
  shift
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  echo "$label: installing Debian packages: ${missing[*]}"
  local sudo=
  [[ $EUID -ne 0 ]] && sudo=sudo
  # Other jobs on the machine may hold the dpkg lock for a while: wait for it instead of failing.
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
