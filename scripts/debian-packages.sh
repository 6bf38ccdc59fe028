# shellcheck shell=bash
# Sourced by scripts/setup.sh: installs the Debian packages given that are not
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
  # The tests run their own nginx and sshd on loopback ports; the system services these packages
  # start on install (port 80, port 22 on every interface) were not asked for: stop and disable them.
  local svc
  for p in "${missing[@]}"; do
    case $p in
    nginx-light) svc=nginx ;;
    openssh-server) svc=ssh ;;
    *) continue ;;
    esac
    if [[ -d /run/systemd/system ]]; then
      $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true
    else
      $sudo service "$svc" stop >/dev/null 2>&1 || true
      $sudo update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
    echo "$label: $p installed for the tests; its system service '$svc' is stopped and disabled"
  done
}
