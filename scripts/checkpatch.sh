#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch.pl --strict over the kernel module and the UAPI header.
# Fails on any ERROR, WARNING or CHECK; ends with a one-line summary.

set -euo pipefail
shopt -s nullglob

cd "$(dirname "$0")/.."
CHECKPATCH=${CHECKPATCH:-/usr/src/linux-source-6.1/scripts/checkpatch.pl}

if [ ! -x "$CHECKPATCH" ]; then
	echo "checkpatch: $CHECKPATCH not found; run scripts/install-deps.sh" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# checkpatch decides by path whether a file is UAPI (no BIT(), __u32 is
# right, ...). Show it the header where it would live in the kernel tree,
# include/uapi/linux/, so it applies the rules the kernel applies there.
mkdir -p "$tmp/include/uapi/linux"
ln -s "$PWD/uapi/linux/kmig.h" "$tmp/include/uapi/linux/kmig.h"

nfiles=0
errors=0
warnings=0
checks=0

# check DIR FILE [checkpatch options]: print the report only when FILE has
# problems, and add its totals to the counters.
check() {
	local dir=$1 file=$2 out rc=0
	shift 2
	out=$(cd "$dir" && "$CHECKPATCH" --strict --no-tree --show-types \
		--color=never --quiet --no-summary "$@" -f "$file") || rc=$?
	nfiles=$((nfiles + 1))
	# 0: clean, 1: reports in $out; anything else is checkpatch itself
	# failing (a missing perl module, say), which must not read as clean.
	if [ $rc -gt 1 ] || { [ $rc -eq 1 ] && [ -z "$out" ]; }; then
		echo "checkpatch: failed on ${file#include/} (exit status $rc)"
		errors=$((errors + 1))
		return 0
	fi
	[ -n "$out" ] || return 0
	echo "$out" | sed 's|include/uapi/linux/kmig\.h|uapi/linux/kmig.h|g'
	echo
	errors=$((errors + $(grep -c '^ERROR:' <<<"$out" || true)))
	warnings=$((warnings + $(grep -c '^WARNING:' <<<"$out" || true)))
	checks=$((checks + $(grep -c '^CHECK:' <<<"$out" || true)))
}

for f in kmod/*.[ch]; do
	if [ "$f" = kmod/compat.h ]; then
		# compat.h is the one file whose job is to test the kernel
		# version, in the usual `LINUX_VERSION_CODE < KERNEL_VERSION()`
		# form; in-tree code never needs that, so checkpatch flags it.
		check . "$f" --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON
	else
		check . "$f"
	fi
done
check "$tmp" include/uapi/linux/kmig.h

echo "checkpatch: $nfiles files, $errors errors, $warnings warnings, $checks checks"
[ $((errors + warnings + checks)) -eq 0 ]
