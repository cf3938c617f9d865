#!/bin/sh
# /init of the nested KVM test host (L1 VM) built by tests/e2e/kvmhost/run.sh.
# Loads the KVM modules of the L1 kernel, mounts proc/sys/devtmpfs/devpts and
# a tmpfs on /tmp, runs /kvmhost/cmd with a guest-side timeout, and prints
# "KVMHOST-EXIT <rc>" (rc 123 after "KVMHOST-TIMEOUT": the command outlived
# its budget while the L1 was alive) for run.sh to parse, then powers the VM
# off. While the command runs, "KVMHOST-HEARTBEAT <uptime>" every
# KVMHOST_HEARTBEAT seconds (default 5) proves the L1 alive: run.sh calls an
# L1 frozen only when even the heartbeat stops. POSIX sh for busybox.
PATH=/kvmhost/bin:/bin:/sbin:/usr/bin:/usr/sbin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /tmp
# pseudo-terminals (/dev/ptmx finds its devpts here): the exec suite runs
# `bulkhead exec -t` on one (tests/e2e/ptyrun)
mkdir -p /dev/pts
mount -t devpts -o ptmxmode=0666,mode=0620 devpts /dev/pts 2>/dev/null || echo "KVMHOST-WARNING: no devpts"
# cgroup v2 for the VM sandbox's per-VM CPU/memory/pids limits (a Debian
# system has it mounted by systemd; this busybox init mounts it itself).
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null || echo "KVMHOST-WARNING: no cgroup2"
# shellcheck source=/dev/null
. /kvmhost/config
# modules.list: "<name> [param=value...]" in load order (dependencies first).
while read -r m params; do
    # shellcheck disable=SC2086 # params are separate words on purpose
    insmod "/kvmhost/modules/$m.ko" $params || echo "KVMHOST-WARNING: insmod $m failed"
done < /kvmhost/modules.list
[ -c /dev/kvm ] || echo "KVMHOST-WARNING: /dev/kvm missing after loading modules"

# Guest-side timeout: what is left of run.sh's budget after booting, less a
# margin so the marker still reaches the host before it kills QEMU.
up=$(cut -d. -f1 /proc/uptime)
left=$((KVMHOST_TIMEOUT - up - 5))
[ "$left" -ge 1 ] || left=1

cd /tmp || exit 1
echo "KVMHOST-START uptime=$(cut -d' ' -f1 /proc/uptime)"
# setsid: the command gets its own process group, so the watchdog can kill
# everything it started (e.g. a VMM stuck in KVM_RUN), not just the shell.
setsid sh /kvmhost/cmd < /dev/null &
pid=$!
( sleep "$left"; touch /kvmhost/timed-out; kill -TERM -- "-$pid" "$pid"; sleep 2; kill -KILL -- "-$pid" "$pid" ) 2>/dev/null &
wd=$!
( while sleep "${KVMHOST_HEARTBEAT:-5}"; do echo "KVMHOST-HEARTBEAT $(cut -d' ' -f1 /proc/uptime)"; done ) &
hb=$!
wait "$pid"
rc=$?
kill "$wd" "$hb" 2>/dev/null
wait "$hb" 2>/dev/null
if [ -e /kvmhost/timed-out ]; then
    echo "KVMHOST-TIMEOUT after ${left}s"
    rc=123
fi
echo "KVMHOST-EXIT $rc"
sync
poweroff -f
