#!/usr/bin/env bash
# scripts/mk-exec-rootfs-busybox.sh OUT.erofs [HOST:GUEST...]
#
# The smallest real userland `bulkhead exec` can run programs in: busybox-
# static (sh, coreutils-like applets, nc, wget, ...) with an applet link per
# command in /bin, /etc/passwd and /etc/group with root and the unprivileged
# user 1000 ("user", home /home/user owned by it), a world-writable /tmp, packed
# read-only as EROFS (mkfs.erofs, erofs-utils) like the default Debian rootfs.
# The exec end-to-end suite (tests/e2e/exec_suite.sh) boots it: the Debian
# rootfs (scripts/prepare-exec.sh) is ~60 MiB and its programs' starts are
# slow in the nested KVM host; this one is ~2 MiB and offline to build.
# HOST:GUEST adds a host file at the absolute GUEST path, mode 0755 (the
# benchmark's vsock peer: bench/run.sh).
# Needs root (the files of user 1000 are chowned), busybox-static and
# erofs-utils (scripts/deps.sh check).
set -euo pipefail
out=${1:?usage: mk-exec-rootfs-busybox.sh OUT.erofs [HOST:GUEST...]}
shift
bb=/bin/busybox
[ -x "$bb" ] || { echo "mk-exec-rootfs-busybox.sh: $bb missing (busybox-static)" >&2; exit 1; }
if ldd "$bb" >/dev/null 2>&1; then
	echo "mk-exec-rootfs-busybox.sh: $bb is dynamically linked; install busybox-static" >&2
	exit 1
fi
command -v mkfs.erofs >/dev/null || { echo "mk-exec-rootfs-busybox.sh: mkfs.erofs missing (erofs-utils)" >&2; exit 1; }
stage=$(mktemp -d "${TMPDIR:-/tmp}/exec-rootfs.XXXXXX")
trap 'rm -rf "$stage" "$out.tmp"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,home/user,tmp,proc,dev,sys,root}
chmod 1777 "$stage/tmp"
chmod 0700 "$stage/root"
cp "$bb" "$stage/bin/busybox"
mapfile -t applets < <("$bb" --list | LC_ALL=C sort -u)
perl -e 'chdir(shift) or die; for (@ARGV) { next if $_ eq "busybox"; symlink("busybox", $_) or die "$_: $!" }' \
	"$stage/bin" "${applets[@]}"
cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:bulkhead exec:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$stage/etc/group" <<'EOF'
root:x:0:
tty:x:5:
user:x:1000:
nogroup:x:65534:
EOF
echo bulkhead >"$stage/etc/hostname"
chown 1000:1000 "$stage/home/user"
for extra in "$@"; do
	host=${extra%%:*}
	dest=${extra#*:}
	case "$dest" in
	/*) ;;
	*) echo "mk-exec-rootfs-busybox.sh: '$extra': expected HOST:/ABSOLUTE/GUEST/PATH" >&2; exit 1 ;;
	esac
	[ -f "$host" ] || { echo "mk-exec-rootfs-busybox.sh: '$extra': $host is not a file" >&2; exit 1; }
	mkdir -p "$stage$(dirname "$dest")"
	install -m 0755 "$host" "$stage$dest"
done
mkdir -p "$(dirname "$out")"
mkfs.erofs -T0 "$out.tmp" "$stage" >/dev/null
mv "$out.tmp" "$out"
echo "$out"
