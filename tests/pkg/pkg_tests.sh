#!/usr/bin/env bash
# tests/pkg/pkg_tests.sh BUILD_DIR — the packaging stage of `make check`
# (issue 14): bulkhead installed the way operators get it.
#   1. `meson install` of BUILD_DIR into a DESTDIR: the exact tree (binaries,
#      man pages, completion, units, sysusers, OpenAPI) under the configured
#      prefix; units point at that prefix; the man pages render without
#      warnings (groff -ww, mandoc -T lint) and list every option --help
#      prints; the bash completion answers; `ninja uninstall` removes it all.
#   2. The Debian package: built with dpkg-buildpackage -us -uc -b
#      (scripts/build-deb.sh), lintian clean at the "error" level.
#   3. That package in a throwaway root: an overlay of / on a tmpfs, in new
#      mount and PID namespaces, chrooted (tests/pkg/in_root.sh: install,
#      group, enabled units, systemd-analyze verify, socket activation with
#      systemd-socket-activate, `bulkhead ps` as a member of the group
#      bulkhead and refused to a non-member, purge); afterwards every file
#      the root's writable layer holds is checked: only dpkg's own records and
#      the kept system group may remain.
# There is no systemd running here (PID 1 is not systemd), so bulkheadd is not
# started from its unit by systemd itself; systemd-socket-activate passes the
# socket exactly as systemd does (LISTEN_FDS/LISTEN_PID).
# Needs root for stage 3 (namespaces, chroot); prints "N passed, N failed".
set -uo pipefail
BUILD=${1:?usage: pkg_tests.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BUILD=$(cd "$BUILD" && pwd)
T=$(mktemp -d /tmp/bulkhead-pkg.XXXXXX)
pass=0
fail=0
ok() { echo "PASS [$1]"; pass=$((pass + 1)); }
bad() { echo "FAIL [$1]${2:+: $2}"; fail=$((fail + 1)); }
skip() { echo "SKIP [$1]: $2"; }
cleanup() {
	[ -f "$T/install-log.saved" ] && cp "$T/install-log.saved" "$BUILD/meson-logs/install-log.txt"
	rm -rf "$T"
}
trap cleanup EXIT
stage_start=$(date +%s)

# --- 1. meson install into a DESTDIR ---------------------------------------------
D=$T/destdir
prefix=$(meson introspect --buildoptions "$BUILD" |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
# keep the build's record of a real `make install`, if any, for `make uninstall`
[ -f "$BUILD/meson-logs/install-log.txt" ] && cp "$BUILD/meson-logs/install-log.txt" "$T/install-log.saved"
if DESTDIR=$D meson install -C "$BUILD" --no-rebuild --quiet >"$T/install.log" 2>&1; then
	ok "meson install DESTDIR=... (prefix $prefix)"
else
	bad "meson install" "$(tail -n 10 "$T/install.log")"
fi
if [ "$prefix" = /usr ]; then unitdir=/lib/systemd/system; else unitdir=$prefix/lib/systemd/system; fi
sysusersdir=$prefix/lib/sysusers.d
expected=$(printf '%s\n' "$prefix/bin/bulkhead" "$prefix/sbin/bulkheadd" \
	"$prefix/libexec/bulkhead/bulkhead-agent" \
	"$prefix/share/man/man1/bulkhead.1" "$prefix/share/man/man1/bulkhead-run.1" \
	"$prefix/share/man/man1/bulkhead-vm.1" "$prefix/share/man/man8/bulkheadd.8" \
	"$prefix/share/man/man1/bulkhead-snapshot.1" "$prefix/share/man/man1/bulkhead-restore.1" \
	"$prefix/share/man/man1/bulkhead-clone.1" \
	"$prefix/share/bash-completion/completions/bulkhead" \
	"$prefix/share/zsh/vendor-completions/_bulkhead" "$prefix/share/bulkhead/openapi.yaml" \
	"$unitdir/bulkheadd.service" "$unitdir/bulkheadd.socket" "$sysusersdir/bulkhead.conf" | sort)
got=$(cd "$D" 2>/dev/null && find . \( -type f -o -type l \) | sed 's/^\.//' | sort)
if [ "$got" = "$expected" ]; then
	ok "installed tree is exactly the $(echo "$expected" | wc -l) expected files"
else
	bad "installed tree" "$(diff <(echo "$expected") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')"
fi
want="ExecStart=$prefix/sbin/bulkheadd --vmm $prefix/bin/bulkhead"
if grep -qxF "$want" "$D$unitdir/bulkheadd.service"; then
	ok "bulkheadd.service runs the installed binaries ($want)"
else
	bad "unit ExecStart" "$(grep ExecStart "$D$unitdir/bulkheadd.service")"
fi
ver=$(sed -n "s/^  version: '\([^']*\)'.*/\1/p" "$top/meson.build" | head -n 1)
if [ "$("$D$prefix/bin/bulkhead" --version)" = "bulkhead $ver" ] &&
	[ "$("$D$prefix/sbin/bulkheadd" --version)" = "bulkheadd $ver" ]; then
	ok "installed binaries run (--version: $ver)"
else
	bad "installed binaries --version"
fi
# (systemd-analyze verify runs on the units installed by the package, in
# stage 3: here the binaries they name are not at their final paths.)

# man pages: no groff or mandoc warnings, rendered by man -l, and every
# option --help prints is in the page (they are made from it: no drift).
for page in man1/bulkhead.1 man1/bulkhead-run.1 man1/bulkhead-vm.1 man8/bulkheadd.8 \
	man1/bulkhead-snapshot.1 man1/bulkhead-restore.1 man1/bulkhead-clone.1; do
	f=$D$prefix/share/man/$page
	name=$(basename "$page")
	w=$( { groff -ww -man -z "$f"; mandoc -T lint -W warning "$f"; } 2>&1)
	r=$(MANROFFOPT=-ww MANWIDTH=80 man -l "$f" 2>&1 >"$T/rendered")
	if [ -z "$w$r" ] && grep -q NAME "$T/rendered"; then
		ok "$name: groff -ww, mandoc -T lint, man -l clean"
	else
		bad "$name lint" "$w $r"
	fi
	case $name in
	bulkhead.1) help=$("$D$prefix/bin/bulkhead" --help) ;;
	bulkhead-run.1) help=$("$D$prefix/bin/bulkhead" run --help) ;;
	bulkhead-vm.1) help=$("$D$prefix/bin/bulkhead" ps --help) ;;
	bulkheadd.8) help=$("$D$prefix/sbin/bulkheadd" --help) ;;
	bulkhead-snapshot.1) help=$("$D$prefix/bin/bulkhead" snapshot --help) ;;
	bulkhead-restore.1) help=$("$D$prefix/bin/bulkhead" restore --help) ;;
	bulkhead-clone.1) help=$("$D$prefix/bin/bulkhead" clone --help) ;;
	esac
	missing=""
	for o in $(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -qF -- "$o" "$T/rendered" || missing="$missing $o"
	done
	[ -z "$missing" ] && ok "$name lists every option of --help" || bad "$name options" "$missing"
done

# completion
if out=$(bash -c '
	. "$1/share/bash-completion/completions/bulkhead"
	complete -p bulkhead
	COMP_WORDS=(bulkhead q); COMP_CWORD=1; _bulkhead "$2" q bulkhead; echo "cmd: ${COMPREPLY[*]}"
	COMP_WORDS=(bulkhead stop --t); COMP_CWORD=2; _bulkhead "$2" --t stop; echo "opt: ${COMPREPLY[*]}"
	COMP_WORDS=(bulkhead run --boot-protocol ""); COMP_CWORD=3; _bulkhead "$2" "" --boot-protocol
	echo "val: ${COMPREPLY[*]}"' _ "$D$prefix" "$D$prefix/bin/bulkhead" 2>&1) &&
	printf '%s' "$out" | grep -q '^cmd: quarantine$' && printf '%s' "$out" | grep -q '^opt: .*--timeout' &&
	printf '%s' "$out" | grep -q '^val: auto linux64 pvh$'; then
	ok "bash completion: commands, options (from --help), option values"
else
	bad "bash completion" "$out"
fi
if command -v zsh >/dev/null; then
	if out=$(zsh -n "$D$prefix/share/zsh/vendor-completions/_bulkhead" 2>&1); then
		ok "zsh completion parses"
	else
		bad "zsh completion parses" "$out"
	fi
else
	skip "zsh completion" "zsh is not installed (not a dependency; the bash completion is tested)"
fi

# uninstall: what install wrote, from its log
if ninja -C "$BUILD" uninstall >"$T/uninstall.log" 2>&1; then :; fi
left=$(cd "$D" 2>/dev/null && find . \( -type f -o -type l \))
[ -z "$left" ] && ok "ninja uninstall (make uninstall) removed every installed file" ||
	bad "uninstall left" "$left"
echo "(DESTDIR part: $(($(date +%s) - stage_start)) s)"

# --- 2. the Debian package ---------------------------------------------------------
deb=""
for tool in dpkg-buildpackage dh lintian; do
	command -v "$tool" >/dev/null || bad "$tool missing (scripts/deps.sh check installs it)"
done
if deb=$(DEB_BUILD_OPTIONS=noautodbgsym "$top/scripts/build-deb.sh" "$T/deb" 2>"$T/build-deb.err"); then
	ok "dpkg-buildpackage -us -uc -b ($(basename "$deb"), $(tail -n 1 "$T/build-deb.err" | sed 's/.*built in/built in/'))"
else
	bad "dpkg-buildpackage" "$(tail -n 15 "$T/build-deb.err")"
	deb=""
fi
if [ -n "$deb" ]; then
	# (as root lintian says so on stderr; that line is not a finding)
	if out=$(cd "$T/deb" && lintian --fail-on error ./*.changes 2>&1 |
		grep -v 'running with root privileges'; exit "${PIPESTATUS[0]}"); then
		ok "lintian --fail-on error${out:+ ($(printf '%s' "$out" | grep -c '^[EWI]:') notes)}"
	else
		bad "lintian" "$out"
	fi
	[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    lintian: /'
fi
echo "(up to the .deb: $(($(date +%s) - stage_start)) s)"

# --- 3. the package in a throwaway root ----------------------------------------------
if [ -z "$deb" ]; then
	bad "throwaway root" "no package to install"
elif [ "$(id -u)" -ne 0 ]; then
	bad "throwaway root" "needs root (namespaces, chroot, overlayfs)"
else
	R=$T/root
	mkdir -p "$R"
	# In new mount and PID namespaces: nothing mounted here is seen outside,
	# and every process started inside dies with its PID 1.
	timeout -k 10 300 unshare --mount --pid --fork --propagation private bash -c '
		set -e
		R=$1 deb=$2 here=$3
		mount -t tmpfs -o mode=0755 pkgroot "$R"
		mkdir "$R/upper" "$R/work" "$R/m"
		mount -t overlay overlay -o lowerdir=/,upperdir="$R/upper",workdir="$R/work" "$R/m"
		mount -t proc proc "$R/m/proc"
		mount --rbind /dev "$R/m/dev"
		mount --rbind -o ro /sys "$R/m/sys" 2>/dev/null || mount --rbind /sys "$R/m/sys"
		mount -t tmpfs -o mode=0755 run "$R/m/run"       # a fresh /run, as at boot
		mkdir -p "$R/m/pkgtest"
		mount -t tmpfs -o mode=0755 pkgtest "$R/m/pkgtest" # inputs: outside the upper layer
		cp "$deb" "$R/m/pkgtest/bulkhead.deb"
		cp "$here/in_root.sh" "$R/m/pkgtest/"
		rc=0
		chroot "$R/m" /pkgtest/in_root.sh /pkgtest/bulkhead.deb || rc=$?
		# Everything the root wrote, for the leftovers check below.
		(cd "$R/upper" && find . -mindepth 1 \( -type f -o -type l -o -type c \) -printf "%y %p\n") \
			>"$R/../upper.list"
		cp "$R/upper/etc/group" "$R/../group.after" 2>/dev/null || :
		cp "$R/upper/etc/passwd" "$R/../passwd.after" 2>/dev/null || :
		exit $rc
	' _ "$R" "$deb" "$here" 2>&1 | tee "$T/in_root.log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$T/in_root.log" | tail -n 1)
	if [ -n "$line" ]; then
		pass=$((pass + ${line%% passed*}))
		f=${line#*passed, }
		fail=$((fail + ${f%% failed*}))
	else
		bad "throwaway root" "in_root.sh printed no summary"
	fi
	# After purge the writable layer may hold only dpkg's and the tools' own
	# records (the package database, logs, debconf, deb-systemd-helper's
	# state directory) and /etc/group etc. with the group kept by design.
	stray=$(grep -v -E ' \./(var/lib/dpkg/|var/log/|var/cache/debconf/|var/lib/systemd/deb-systemd-helper-(enabled|masked)/?$|etc/(group|gshadow|passwd|shadow|subuid|subgid)-?$|etc/\.pwd\.lock$|var/cache/man/|var/lib/systemd/?$)' \
		"$T/upper.list" 2>/dev/null | grep -v '^c ' || true)
	if [ -f "$T/upper.list" ] && [ -z "$stray" ]; then
		ok "after purge the throwaway root holds no stray file ($(wc -l <"$T/upper.list") records of dpkg and the tools)"
	else
		bad "stray files after purge" "$(printf '%s' "$stray" | tr '\n' ' ' | cut -c1-400)"
	fi
	if [ -f "$T/passwd.after" ] && ! grep -q '^bhpkg-' "$T/passwd.after" "$T/group.after"; then
		ok "test users removed; group bulkhead kept by design ($(grep -c '^bulkhead:' "$T/group.after"))"
	else
		bad "test users removed" "$(grep '^bhpkg-' "$T/passwd.after" "$T/group.after" 2>&1)"
	fi
fi
echo "(packaging stage: $(($(date +%s) - stage_start)) s)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
