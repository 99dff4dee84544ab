#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# install-qemu-peer.sh [DIR]: QEMU 10.0 from Debian's bookworm-backports,
# unpacked beside the system's QEMU 7.2 into DIR (build/qemu-10), for
# make bench-peer (bench/peer/run.sh's main peer). Nothing is installed:
# the system's qemu-system-x86 (the sandbox's own QEMU) stays as it is.
#
#   - adds "deb http://deb.debian.org/debian bookworm-backports main" to
#     apt's sources (/etc/apt/sources.list.d/kmig-bookworm-backports.list)
#     unless a source already lists bookworm-backports; backports' default
#     pin priority (100) means that nothing upgrades to it by itself;
#   - apt-get update, when apt does not know a backports qemu-system-x86;
#   - apt-get download of qemu-system-x86, qemu-system-common and
#     qemu-system-data, all of the version bookworm-backports has (picked
#     by suite from apt-cache madison, not hard-coded), and dpkg -x of the
#     three into DIR;
#   - checks that DIR/usr/bin/qemu-system-x86_64 --version runs on the
#     system's libraries (ldd names any it lacks).
#
# Run it as QEMU=DIR/usr/bin/qemu-system-x86_64 with
# -L DIR/usr/share/qemu -L /usr/share/qemu -L /usr/share/seabios
# (bookworm's seabios 1.16 serves it). Idempotent: when DIR already holds
# a QEMU that runs, it prints its version and does nothing else. Needs
# root only when it has to touch apt's sources or lists. Inside the
# sandbox (host root read-only over 9p) DIR is visible as it is, as long
# as it is not under /tmp (the sandbox's own tmpfs).
#
# Prints the binary's path on stdout; diagnostics on stderr. Exit 0 when
# that binary runs, 1 otherwise.

set -euo pipefail

project=$(cd "$(dirname "$0")/.." && pwd -P)
dir=$(realpath -m "${1:-$project/build/qemu-10}")
bin=$dir/usr/bin/qemu-system-x86_64
suite=bookworm-backports
list=/etc/apt/sources.list.d/kmig-$suite.list
pkgs=(qemu-system-x86 qemu-system-common qemu-system-data)

say() { echo "install-qemu-peer: $*" >&2; }

runs() {
	"$bin" -L "$dir/usr/share/qemu" -L /usr/share/seabios --version \
		>/dev/null 2>&1
}

if [ -x "$bin" ] && runs; then
	echo "$bin"
	exit 0
fi

# backports_version: the version of qemu-system-x86 apt knows from
# bookworm-backports, empty when it knows none.
backports_version() {
	apt-cache madison qemu-system-x86 2>/dev/null |
		awk -F' *[|] *' -v s=" $suite/" 'index($3, s) { print $2; exit }'
}

export DEBIAN_FRONTEND=noninteractive
ver=$(backports_version)
if [ -z "$ver" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		say "apt knows no $suite: run me as root"
		exit 1
	fi
	if ! grep -rqs "^[^#]*$suite" /etc/apt/sources.list /etc/apt/sources.list.d/; then
		say "adding $suite to apt's sources ($list)"
		echo "deb http://deb.debian.org/debian $suite main" >"$list"
	fi
	say "apt-get update"
	log=$(mktemp)
	if ! apt-get update -q </dev/null >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		say "apt-get update failed"
		exit 1
	fi
	rm -f "$log"
	ver=$(backports_version)
	[ -n "$ver" ] || { say "$suite has no qemu-system-x86"; exit 1; }
fi

say "QEMU $ver from $suite into $dir"
debs=$dir.debs
rm -rf "$debs" "$dir"
mkdir -p "$debs" "$dir"
# apt-get download writes into the current directory; as root it warns
# that _apt cannot write there, which is harmless.
if ! (cd "$debs" && apt-get download -q "${pkgs[@]/%/=$ver}") \
	</dev/null >"$debs.log" 2>&1; then
	cat "$debs.log" >&2
	say "apt-get download failed"
	exit 1
fi
for d in "$debs"/*.deb; do
	dpkg -x "$d" "$dir"
done
rm -rf "$debs" "$debs.log"

if ! runs; then
	say "$bin does not run here:"
	ldd "$bin" | grep 'not found' >&2 || "$bin" --version >&2 || true
	exit 1
fi
say "$("$bin" --version | head -n 1)"
echo "$bin"
