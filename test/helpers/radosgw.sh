#!/usr/bin/env bash
# A single-node Ceph on 127.0.0.1 with an S3 endpoint (radosgw), for trying flashroot's s3:// path
# against a real S3 implementation (docs/network.md, "Tried against Ceph radosgw"). One monitor,
# one OSD on memstore (RAM, nothing on disk), no manager (nothing here needs one). cephx stays on
# (radosgw of Ceph 16 cannot reach a monitor with auth none: get_initial_auth_request -13); the S3
# side checks SigV4 with the user made below. Everything lives in $DIR; nothing touches
# /etc/ceph or systemd.
#
#   test/helpers/radosgw.sh start [DIR]   # prints the endpoint and credentials as shell exports
#   test/helpers/radosgw.sh stop  [DIR]
#
# Needs Debian 12's ceph-mon ceph-osd radosgw (apt-get install --no-install-recommends ceph-mon
# ceph-osd radosgw); awscli/s3cmd only as independent clients to look at what was written.
# RGW_PORT (default 7480) and MON_PORT (default 3300 + 17) can be set; both bind 127.0.0.1 only.
set -euo pipefail

cmd=${1:-}
DIR=${2:-/tmp/flashroot-radosgw}
RGW_PORT=${RGW_PORT:-7480}
MON_PORT=${MON_PORT:-3317}
ACCESS_KEY=${ACCESS_KEY:-FLASHROOTRGW}
SECRET_KEY=${SECRET_KEY:-not-a-real-secret-rgw}
# RGW_SSL_CERT / RGW_SSL_KEY: serve https (beast's own TLS) instead of http.
RGW_SSL_CERT=${RGW_SSL_CERT:-}
RGW_SSL_KEY=${RGW_SSL_KEY:-}
CONF=$DIR/ceph.conf

for tool in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph-authtool; do
  command -v "$tool" >/dev/null || { echo "radosgw.sh: $tool missing: apt-get install --no-install-recommends ceph-mon ceph-osd radosgw" >&2; exit 4; }
done

stop() {
  for pidfile in "$DIR"/run/*.pid; do
    [[ -f $pidfile ]] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

wait_for() { # what, seconds, command…
  local what=$1 secs=$2
  shift 2
  for _ in $(seq $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "radosgw.sh: $what not up after ${secs}s; logs in $DIR/log" >&2
  exit 1
}

start() {
  stop
  rm -rf "$DIR"
  mkdir -p "$DIR"/{run,log,mon.a,osd.0,rgw}
  local fsid frontend
  fsid=$(cat /proc/sys/kernel/random/uuid)
  frontend="beast endpoint=127.0.0.1:$RGW_PORT"
  [[ -n $RGW_SSL_CERT ]] && frontend="beast ssl_endpoint=127.0.0.1:$RGW_PORT ssl_certificate=$RGW_SSL_CERT ssl_private_key=$RGW_SSL_KEY"
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$MON_PORT
public_addr = 127.0.0.1
ms_bind_msgr1 = false
run_dir = $DIR/run
admin_socket = $DIR/run/\$name.asok
pid_file = $DIR/run/\$name.pid
log_file = $DIR/log/\$name.log
keyring = $DIR/keyring
# One OSD: every pool has one copy, and CRUSH chooses among OSDs, not hosts.
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
[mon]
mon_data = $DIR/mon.\$id
[osd]
osd_data = $DIR/osd.\$id
osd_objectstore = memstore
memstore_device_bytes = 2147483648
[client.rgw.a]
rgw_frontends = $frontend
rgw_data = $DIR/rgw
EOF
  local k=$DIR/keyring
  ceph-authtool --create-keyring "$k" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$k" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$k" --gen-key -n osd.0 --cap mon 'allow profile osd' --cap osd 'allow *' >/dev/null
  ceph-authtool "$k" --gen-key -n client.rgw.a --cap mon 'allow rw' --cap osd 'allow rwx' >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$k"
  ceph-mon -c "$CONF" -i a
  wait_for monitor 30 ceph -c "$CONF" --connect-timeout 2 mon stat
  ceph -c "$CONF" auth import -i "$k" 2>/dev/null
  local uuid id
  uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(ceph -c "$CONF" osd new "$uuid")
  ceph-osd -c "$CONF" -i "$id" --mkfs --osd-uuid "$uuid" 2>"$DIR/log/osd-mkfs.err"
  ceph-osd -c "$CONF" -i "$id"
  wait_for "osd.$id" 60 sh -c "ceph -c '$CONF' osd dump | grep -q '^osd.$id up'"
  radosgw -c "$CONF" -n client.rgw.a
  local scheme=http
  [[ -n $RGW_SSL_CERT ]] && scheme=https
  wait_for radosgw 90 curl -sk -o /dev/null "$scheme://127.0.0.1:$RGW_PORT/"
  radosgw-admin -c "$CONF" user create --uid=flashroot --display-name=flashroot --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null
  cat <<EOF
export S3_ENDPOINT=$scheme://127.0.0.1:$RGW_PORT
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=us-east-1
export CEPH_CONF=$CONF
EOF
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop [DIR]" >&2; exit 2 ;;
esac
