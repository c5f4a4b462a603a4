#!/bin/bash
# nspawn-vps.sh base|up|exec|hostns|down — a throwaway Debian "VPS" booted with systemd as
# PID 1 (systemd-nspawn), in network namespaces of its own, on an overlay over a
# debootstrapped base that is cached between runs. Used by tests/fresh_host.rs; nothing of
# this machine's own network, firewall, sshd or users is touched: the VPS reaches only the
# host-side namespace (HOSTIP) and, for apt, this machine's Debian mirror through a relay.
#
#   base       debootstrap the base once into VPS_BASE (VPS_SUITE: bookworm, trixie; ~2 min)
#   up         boot; wait until `systemctl is-system-running` is running or degraded
#   exec CMD   run CMD inside the VPS (all its namespaces)
#   pid1       print the PID (on this machine) of the VPS's PID 1
#   hostns CMD run CMD in the host-side namespace (where the "admin's laptop" is)
#   down       power off, unmount, delete namespaces, cgroups and the overlay
#
# Needs (Debian): debootstrap systemd-container socat, installed --no-install-recommends
# (libnss-mymachines would edit this machine's nsswitch.conf).
# Caveats: cgroup limits are not enforced inside; `systemd-detect-virt` says nspawn; drive
# the VPS through ssh (exec has this machine's capabilities).
set -euo pipefail
NAME=${VPS_NAME:?set VPS_NAME}
SUITE=${VPS_SUITE:-bookworm}
BASE=${VPS_BASE:-/var/cache/clawguard-tests/vps-base-$SUITE}
RUN=${VPS_RUN:-${TMPDIR:-/tmp}/vps-run-$NAME}
MIRROR_HOST=${VPS_MIRROR_HOST:-$( (cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true) | grep -o 'http://[^/ ]*' | grep -v snapshot | sed -n '1s|http://||p' || true)}
HNS=$NAME-h
CNS=$NAME
HOSTIP=${VPS_HOSTIP:-10.231.0.1/24} VPSIP=${VPS_IP:-10.231.0.2/24}
CG="/sys/fs/cgroup/systemd/$NAME /sys/fs/cgroup/unified/$NAME"
ENVI=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb LANG=C.UTF-8 HOME=/root DEBIAN_FRONTEND=noninteractive)
nspawn() { pgrep -x -P "$(cat $RUN/loop.pid)" systemd-nspawn; }
pid1() { pgrep -P "$(nspawn)" | head -1; }

case "${1:-}" in
base)
  mkdir -p "$(dirname "$BASE")"
  exec 9>"$BASE.lock"; flock 9
  [ -x "$BASE/usr/sbin/sshd" ] && exit 0
  rm -rf "$BASE.tmp"
  # What a cloud image has: systemd, sshd, sudo; libpam-systemd gives ssh logins a session.
  debootstrap --include=systemd,systemd-sysv,dbus,libpam-systemd,openssh-server,iproute2,sudo \
    "$SUITE" "$BASE.tmp" >"$BASE.log" 2>&1 || { tail -20 "$BASE.log" >&2; exit 1; }
  : > "$BASE.tmp/etc/machine-id"; ln -sf /etc/machine-id "$BASE.tmp/var/lib/dbus/machine-id"
  rm -f "$BASE.tmp"/etc/ssh/ssh_host_*    # each VPS makes its own (sshd-keygen at boot)
  mv "$BASE.tmp" "$BASE"
  ;;
up)
  [ -x "$BASE/usr/sbin/sshd" ] || { echo "no base at $BASE: run $0 base" >&2; exit 1; }
  mkdir -p $RUN/upper $RUN/work $RUN/root $RUN/docker
  mount -t overlay overlay -o lowerdir=$BASE,upperdir=$RUN/upper,workdir=$RUN/work $RUN/root
  echo vps > $RUN/root/etc/hostname; printf '127.0.1.1\tvps\n' >> $RUN/root/etc/hosts
  ip netns add $CNS; ip netns add $HNS
  ip link add $NAME-v type veth peer name eth0 netns $CNS
  ip link set $NAME-v netns $HNS
  ip -n $HNS addr add $HOSTIP dev $NAME-v; ip -n $HNS link set $NAME-v up; ip -n $HNS link set lo up
  ip -n $CNS addr add $VPSIP dev eth0;     ip -n $CNS link set eth0 up;     ip -n $CNS link set lo up
  ip -n $CNS route add default via ${HOSTIP%/*}
  # The "provider's mirror" at HOSTIP:3142: a plain TCP relay to this machine's Debian
  # mirror through a unix socket (no NAT on this machine); apt in the VPS uses it as proxy.
  setsid socat UNIX-LISTEN:$RUN/mirror.sock,fork TCP:$MIRROR_HOST:80 </dev/null >/dev/null 2>&1 &
  echo $! > $RUN/socat1.pid
  setsid ip netns exec $HNS socat TCP-LISTEN:3142,bind=${HOSTIP%/*},fork,reuseaddr \
    UNIX-CONNECT:$RUN/mirror.sock </dev/null >/dev/null 2>&1 &
  echo $! > $RUN/socat2.pid
  echo "Acquire::http::Proxy \"http://${HOSTIP%/*}:3142\";" > $RUN/root/etc/apt/apt.conf.d/01mirror
  # sshd needs host keys; a cloud image makes them at first boot.
  chroot $RUN/root ssh-keygen -A >/dev/null
  for c in $CG; do mkdir -p $c; done
  ( for c in $CG; do echo $BASHPID > $c/cgroup.procs; done
    # CAP_NET_ADMIN is not kept with --network-namespace-path (only with --private-network).
    # API_VFS_WRITABLE=network: writable /proc/sys/net (ufw's sysctls, docker's ip_forward).
    # UNIFIED_HIERARCHY=1: pure cgroup2 as on a real Debian 12 (runc fails on hybrid).
    # @keyring bpf: runc needs keyctl and bpf(BPF_PROG_QUERY), which nspawn's filter denies.
    rc=133; while [ $rc = 133 ]; do     # 133: the VPS asked for a reboot -> boot again
    env SYSTEMD_NSPAWN_API_VFS_WRITABLE=network SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 \
      setsid systemd-nspawn -q -D $RUN/root -b --register=no --keep-unit \
         --capability=CAP_NET_ADMIN --system-call-filter='@keyring bpf' \
         --bind=$RUN/docker:/var/lib/docker \
         --network-namespace-path=/run/netns/$CNS --machine=$NAME --hostname=vps --console=pipe \
         </dev/null >>$RUN/console.log 2>&1 && rc=0 || rc=$?; done ) </dev/null >/dev/null 2>&1 &
  echo $! > $RUN/loop.pid
  P=
  for i in $(seq 100); do P=$(pid1 2>/dev/null || true); [ -n "$P" ] && break; sleep 0.1; done
  state=
  for i in $(seq 1200); do
    # nspawn's first child may be a short-lived helper: look for PID 1 again each time.
    P=$(pid1 2>/dev/null || true)
    [ -n "$P" ] || { sleep 0.1; continue; }
    state=$(nsenter -t $P -a "${ENVI[@]}" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) break;; esac; sleep 0.1; done
  echo "pid1=$P state=$state"
  case "$state" in running|degraded) ;; *) echo "not booted: state=$state"; tail -30 $RUN/console.log >&2; ps -ef --forest | grep -A5 systemd-nspawn | head -20 >&2; exit 1;; esac
  ;;
exec)   shift; exec nsenter -t "$(pid1)" -a "${ENVI[@]}" "$@" ;;
pid1)   pid1 ;;
hostns) shift; exec ip netns exec $HNS "$@" ;;
down)
  L=$(cat $RUN/loop.pid 2>/dev/null || true); N=$(nspawn 2>/dev/null || true)
  [ -n "$L" ] && kill -STOP $L 2>/dev/null || true      # no reboot loop while going down
  [ -n "$N" ] && kill -TERM $N                          # nspawn: clean poweroff
  for i in $(seq 300); do [ -n "$N" ] && kill -0 $N 2>/dev/null || break; sleep 0.1; done
  N=$(pgrep -x -P "$L" systemd-nspawn 2>/dev/null || true); [ -n "$N" ] && kill -KILL $N
  [ -n "$L" ] && kill -KILL $L 2>/dev/null || true
  for f in $RUN/socat1.pid $RUN/socat2.pid; do [ -f $f ] && kill $(cat $f) 2>/dev/null || true; done
  umount $RUN/root 2>/dev/null || umount -l $RUN/root 2>/dev/null || true
  ip netns del $CNS 2>/dev/null || true; ip netns del $HNS 2>/dev/null || true
  for c in $CG; do [ -d $c ] && find $c -depth -type d -exec rmdir {} \; 2>/dev/null || true; done
  rm -rf /run/systemd/nspawn/propagate/$NAME "$RUN"
  ;;
*) echo "usage: $0 base|up|exec CMD|hostns CMD|down" >&2; exit 2 ;;
esac
