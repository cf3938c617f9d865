#!/usr/bin/env bash
# tests/pkg/in_root.sh DEB — the package's life in a throwaway root, run by
# pkg_tests.sh as PID 1 of a new PID namespace, chrooted into an overlay of
# the host's / (all writes go to a tmpfs the caller inspects afterwards, and
# vanish with it). Installs DEB with dpkg, checks what it set up, starts
# bulkheadd the way bulkheadd.socket would (systemd-socket-activate: the
# command line from the installed unit, socket mode and group from the
# installed socket unit), talks to it as a member and a non-member of the
# group `bulkhead`, then purges and checks that nothing is left.
# Prints PASS/FAIL lines and "N passed, N failed".
set -uo pipefail
DEB=$1
pass=0
fail=0
ok() { echo "PASS [$1]"; pass=$((pass + 1)); }
bad() { echo "FAIL [$1]${2:+: $2}"; fail=$((fail + 1)); }
check() { # check NAME CMD...: the command must succeed
	local name=$1
	shift
	if out=$("$@" 2>&1); then ok "$name"; else bad "$name" "$(printf '%s' "$out" | tail -n 5)"; fi
}
T=/pkgtest
MEMBER=bhpkg-member
OTHER=bhpkg-other
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# --- install -----------------------------------------------------------------
if dpkg -i "$DEB" >"$T/dpkg-i.log" 2>&1; then ok "dpkg -i"; else bad "dpkg -i" "$(tail -n 20 "$T/dpkg-i.log")"; fi
dpkg -L bulkhead >"$T/files" 2>/dev/null
for f in /usr/bin/bulkhead /usr/sbin/bulkheadd /lib/systemd/system/bulkheadd.service \
	/lib/systemd/system/bulkheadd.socket /usr/lib/sysusers.d/bulkhead.conf \
	/usr/share/man/man1/bulkhead.1.gz /usr/share/man/man8/bulkheadd.8.gz \
	/usr/share/bash-completion/completions/bulkhead /usr/share/bulkhead/openapi.yaml; do
	[ -e "$f" ] || bad "installed: $f" "missing"
done
[ "$fail" -eq 0 ] && ok "installed files present"
check "group bulkhead created (sysusers)" getent group bulkhead
check "bulkheadd.socket enabled" test -L /etc/systemd/system/sockets.target.wants/bulkheadd.socket
check "bulkheadd.service enabled" test -L /etc/systemd/system/multi-user.target.wants/bulkheadd.service
# verify loads the units as systemd would: unknown directives, bad paths,
# a non-executable ExecStart, missing dependencies are errors.
if out=$(systemd-analyze verify /lib/systemd/system/bulkheadd.socket \
	/lib/systemd/system/bulkheadd.service 2>&1) && [ -z "$out" ]; then
	ok "systemd-analyze verify (installed units)"
else
	bad "systemd-analyze verify (installed units)" "$out"
fi
check "man finds bulkhead(1)" man -w bulkhead
check "man finds bulkheadd(8)" man -w 8 bulkheadd

# --- the daemon, socket-activated -----------------------------------------------
useradd --system --no-create-home --shell /usr/sbin/nologin --groups bulkhead "$MEMBER"
useradd --system --no-create-home --shell /usr/sbin/nologin "$OTHER"
unit=/lib/systemd/system/bulkheadd
listen=$(sed -n 's/^ListenStream=//p' "$unit.socket")
mode=$(sed -n 's/^SocketMode=//p' "$unit.socket")
group=$(sed -n 's/^SocketGroup=//p' "$unit.socket")
read -r -a cmd <<<"$(sed -n 's/^ExecStart=//p' "$unit.service")"
mkdir -p -m 0755 "$(dirname "$listen")"
log=$T/bulkheadd.log
: >"$log"
# stderr to a file standing in for the journal: JOURNAL_STREAM names it, as
# systemd does for StandardError=journal.
(
	exec 2>>"$log" >&2 </dev/null
	JOURNAL_STREAM=$(stat -c '%d:%i' "$log") exec timeout -k 5 120 \
		systemd-socket-activate -E JOURNAL_STREAM -l "$listen" -- "${cmd[@]}"
) &
act_pid=$!
for _ in $(seq 50); do [ -S "$listen" ] && break; sleep 0.1; done
# what systemd does with SocketGroup= / SocketMode= before anything can connect
chgrp "$group" "$listen" && chmod "$mode" "$listen"
if [ "$(stat -c '%a %G' "$listen")" = "${mode#0} bulkhead" ]; then
	ok "socket $listen: mode $mode, group $group (from bulkheadd.socket)"
else
	bad "socket mode/group" "$(stat -c '%a %G' "$listen")"
fi
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --init-groups -- "$@"; }
if out=$(as "$MEMBER" timeout -k 5 20 bulkhead ps 2>&1) && printf '%s' "$out" | grep -q '^ID  *NAME  *STATE'; then
	ok "bulkhead ps as a member of group bulkhead (activates the daemon)"
else
	bad "bulkhead ps as a member" "$out"
fi
if grep -q '^<6>bulkhead: info: serving on /run/bulkhead/bulkheadd.sock (socket activation)' "$log"; then
	ok "daemon took the activated socket; journal lines carry priorities (<6>)"
else
	bad "socket activation / journal priorities" "$(head -n 5 "$log")"
fi
# A non-member: the socket's mode refuses the connection itself (EACCES).
if out=$(as "$OTHER" timeout -k 5 20 bulkhead ps 2>&1); then
	bad "bulkhead ps refused to a non-member" "it succeeded: $out"
elif why=$(as "$OTHER" python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print(e.strerror)' "$listen") && [ "$why" = "Permission denied" ]; then
	if printf '%s' "$out" | grep -q "permission denied (the socket admits root and members of its group"; then
		ok "bulkhead ps refused to a non-member (connect: $why), and the CLI says why"
	else
		bad "the CLI explains the refusal" "$out"
	fi
else
	bad "bulkhead ps refused to a non-member" "connect: ${why:-connected}; CLI: $out"
fi
# A VM record (no KVM needed to create one), for the completion of VM names.
printf '{"kernel": "/usr/bin/bulkhead", "mem": "64M"}\n' >"$T/vm.json"
chmod 0644 "$T/vm.json"
if out=$(as "$MEMBER" timeout -k 5 20 bulkhead create --config "$T/vm.json" --name pkgvm 2>&1); then
	ok "bulkhead create as a member ($out)"
else
	bad "bulkhead create as a member" "$out"
fi
compl=$(as "$MEMBER" bash -c '
	. /usr/share/bash-completion/completions/bulkhead
	COMP_WORDS=(bulkhead pause pk); COMP_CWORD=2; _bulkhead bulkhead pk bulkhead
	echo "vms: ${COMPREPLY[*]}"
	COMP_WORDS=(bulkhead ""); COMP_CWORD=1; _bulkhead bulkhead "" bulkhead
	echo "commands: ${COMPREPLY[*]}"
	COMP_WORDS=(bulkhead run --cp); COMP_CWORD=2; _bulkhead bulkhead --cp run
	echo "options: ${COMPREPLY[*]}"' 2>&1)
# Each line must hold the words it must (new commands and options may join).
has_words() { # has_words LINE-PREFIX WORD...: the line starting so has every word
	local line w
	line=" $(printf '%s\n' "$compl" | sed -n "s/^$1: //p") "
	shift
	for w in "$@"; do case $line in *" $w "*) ;; *) return 1 ;; esac; done
}
if has_words vms pkgvm && has_words commands run ps create quarantine stop &&
	has_words options --cpu-template --cpus; then
	ok "bash completion: VM names from the daemon, commands, options"
else
	bad "bash completion" "$compl"
fi
as "$MEMBER" timeout -k 5 20 bulkhead rm pkgvm >/dev/null 2>&1 || bad "bulkhead rm pkgvm"
daemon_pid=$act_pid
# the daemon is the process systemd-socket-activate exec'd into (same pid,
# below timeout)
for p in $(pgrep -P "$act_pid") "$act_pid"; do
	[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/sbin/bulkheadd ] && daemon_pid=$p
done

# --- purge ---------------------------------------------------------------------
if dpkg --purge bulkhead >"$T/purge.log" 2>&1; then ok "dpkg --purge"; else bad "dpkg --purge" "$(tail -n 20 "$T/purge.log")"; fi
sleep 0.2
if [ -d "/proc/$daemon_pid" ] && [ "$(readlink "/proc/$daemon_pid/exe" 2>/dev/null)" != "" ] &&
	readlink "/proc/$daemon_pid/exe" | grep -q bulkheadd; then
	bad "removal stops bulkheadd" "pid $daemon_pid still runs"
else
	if grep -q "^bulkhead: stopping bulkheadd and its VMs: *$daemon_pid\b" "$T/purge.log"; then
		ok "removal stopped the running bulkheadd (prerm: pid $daemon_pid)"
	else
		bad "removal stopped bulkheadd" "gone, but not by prerm: $(cat "$T/purge.log")"
	fi
fi
left=""
for p in /proc/[0-9]*/exe; do
	case $(readlink "$p" 2>/dev/null) in *bulkhead*) left="$left ${p#/proc/}" ;; esac
done
[ -z "$left" ] && ok "no bulkhead process left" || bad "no bulkhead process left" "$left"
left=""
while read -r f; do
	[ -d "$f" ] && continue # shared directories (/usr/bin, ...) stay
	[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done <"$T/files"
for f in /var/lib/bulkhead /run/bulkhead /etc/systemd/system/sockets.target.wants/bulkheadd.socket \
	/etc/systemd/system/multi-user.target.wants/bulkheadd.service; do
	[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done
[ -z "$left" ] && ok "purge left none of the package's files, state, runtime dir, unit links" ||
	bad "purge left files" "$left"
dpkg -s bulkhead >/dev/null 2>&1 && bad "dpkg forgot the package" || ok "dpkg forgot the package"
userdel "$MEMBER"
userdel "$OTHER"
kill "$act_pid" 2>/dev/null
wait 2>/dev/null
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
