#!/bin/sh
# wait-init.sh — /init of the Linux guest used by daemon_kvm.sh's graceful-stop
# test: says it is up, then waits forever. Only the kernel can end it (booted
# with sysctl.kernel.ctrl-alt-del=1, Ctrl-Alt-Del makes it reboot at once).
mount -t proc proc /proc
echo BULKHEAD-WAIT-READY
while :; do sleep 1; done
