#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what building and testing kmig needs on a Debian 12 host.
#
# Idempotent: when everything is present it only checks and prints nothing.
# CI runs it as root with no stdin and no TTY, so apt never gets to ask.

set -euo pipefail

# Build tools, the kernel the sandbox boots and its headers (the
# metapackages keep image and headers at the same version), the sandbox's
# userland, libnl for libkmig, sparse, and the kernel source for
# checkpatch.pl and kselftest_harness.h. xz-utils unpacks that source.
# clang-14 and libclang-rt-14-dev (libclang_rt.fuzzer-x86_64.a and the
# sanitizer runtimes on bookworm) build the libFuzzer harnesses, user/fuzz.
# GnuTLS is kmigctl's TLS 1.3 (user/kmigctl/wire/tls.c); gnutls-bin's
# certtool makes the test credentials (scripts/mkcreds.sh).
PKGS=(build-essential qemu-system-x86 linux-image-amd64 linux-headers-amd64
      busybox-static kmod cpio libnl-genl-3-dev libzstd-dev pkg-config
      iproute2 sparse linux-source-6.1 python3 perl xz-utils
      clang-14 libclang-rt-14-dev libgnutls28-dev gnutls-bin)

SRC=/usr/src/linux-source-6.1
# Files used straight from the kernel source tree.
SRC_FILES=(scripts/checkpatch.pl scripts/spelling.txt
	   scripts/const_structs.checkpatch
	   tools/testing/selftests/kselftest.h
	   tools/testing/selftests/kselftest_harness.h)

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing ${missing[*]}; run me as root" >&2
		exit 1
	fi
	echo "install-deps: apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# apt's chatter only when it fails.
	log=$(mktemp)
	if ! { apt-get update -q &&
	       apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
		</dev/null >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		echo "install-deps: apt-get failed" >&2
		exit 1
	fi
	rm -f "$log"
fi

need_src=0
for f in "${SRC_FILES[@]}"; do
	[ -e "$SRC/$f" ] || need_src=1
done

if [ $need_src -eq 1 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: $SRC incomplete; run me as root" >&2
		exit 1
	fi
	# The whole tree takes ~15 s and 1.5 GiB; worth it because the
	# selftests and the docs refer to other parts of it (kvm selftests,
	# virt/kvm) and a partial tree would differ from a developer's.
	echo "install-deps: extracting $SRC.tar.xz"
	tar -xJf "$SRC.tar.xz" -C "$(dirname "$SRC")"
	for f in "${SRC_FILES[@]}"; do
		[ -e "$SRC/$f" ] || { echo "install-deps: $SRC/$f missing" >&2; exit 1; }
	done
fi

# The sandbox boots the newest kernel under /lib/modules; the module is
# built against its headers. Catch a half-installed pair here, where the
# message is clear, rather than as a build error later.
kver=$(ls -1 /lib/modules 2>/dev/null | sort -V | tail -n 1)
for f in "/boot/vmlinuz-$kver" "/lib/modules/$kver/build/Makefile" \
	 "/lib/modules/$kver/modules.dep"; do
	if [ -z "$kver" ] || [ ! -e "$f" ]; then
		echo "install-deps: kernel ${kver:-?} incomplete: $f missing" >&2
		exit 1
	fi
done
