#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh KVER OUTPUT: build the sandbox's initramfs (an uncompressed
# newc cpio) for kernel KVER: static busybox, scripts/sandbox/init, and the
# modules needed to mount the host over virtio-9p. Everything else (KVM,
# the tests) comes from the host root once it is mounted.
#
# Rebuilds only when an input changed: this script, init, busybox, KVER's
# module files.

set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

if [ $# -ne 2 ]; then
	echo "usage: $0 KVER OUTPUT" >&2
	exit 2
fi
kver=$1
output=$2
here=$(cd "$(dirname "$0")" && pwd -P)
busybox=/bin/busybox

# What init needs to reach the host: virtio-pci for the devices, 9p over
# virtio for the shares. modprobe resolves dependencies and their order
# from modules.dep without loading anything (works where the running
# kernel has no module support at all).
wanted="virtio_pci 9pnet_virtio 9p"

modules=$(for m in $wanted; do
		modprobe -S "$kver" --show-depends "$m" || exit 1
	  done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }')
[ -n "$modules" ] || { echo "mkinitramfs: no modules for $kver" >&2; exit 1; }

case "$(ldd "$busybox" 2>&1 || true)" in
*"not a dynamic executable"*) ;;
*)	echo "mkinitramfs: $busybox is not static; install busybox-static" >&2
	exit 1 ;;
esac

# Inputs that decide the content; compared with the last build's.
stamp=$( { sha256sum "$here/init" "$0"
	   stat -L -c '%n %s %Y' "$busybox" $modules; } | sha256sum)
if [ -f "$output" ] && [ "$(cat "$output.stamp" 2>/dev/null)" = "$stamp" ]; then
	exit 0
fi

echo "mkinitramfs: building $output" >&2
tmp=$(mktemp -d)
chmod 0755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp"/{bin,dev,proc,sys,out,newroot,modules}
cp "$busybox" "$tmp/bin/busybox"
install -m 0755 "$here/init" "$tmp/init"
# The kernel's built-in initramfs already has /dev/console; make our own in
# case a kernel lacks it (needs root, as CI is).
mknod -m 0600 "$tmp/dev/console" c 5 1 2>/dev/null || true

# busybox insmod cannot decompress, so store the modules plain.
for ko in $modules; do
	name=$(basename "$ko")
	case "$ko" in
	*.ko)     cp "$ko" "$tmp/modules/$name" ;;
	*.ko.xz)  xz -dc "$ko" >"$tmp/modules/${name%.xz}" ;;
	*.ko.zst) zstd -qdc "$ko" >"$tmp/modules/${name%.zst}" ;;
	*.ko.gz)  gzip -dc "$ko" >"$tmp/modules/${name%.gz}" ;;
	*) echo "mkinitramfs: unknown module format $ko" >&2; exit 1 ;;
	esac
	echo "${name%.ko*}.ko" >>"$tmp/modules/order"
done

mkdir -p "$(dirname "$output")"
(cd "$tmp" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc -R 0:0 --quiet) >"$output.new"
mv "$output.new" "$output"
echo "$stamp" >"$output.stamp"
