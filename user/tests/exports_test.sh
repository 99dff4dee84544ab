#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# libkmig's binary interface as built in $O: soname, exported symbols and
# their version node, the static archive and the pkg-config file.

. "$(dirname "$0")/tap.sh"
: "${O:?set O to the build directory}"
so=$O/libkmig.so.1
hdr=$(dirname "$0")/../include/libkmig.h

# Defined dynamic symbols: "T kmig_open@@KMIG_1.0", plus the nodes.
exports=$(nm -D --defined-only "$so" | awk '{ print $3 }')

# Functions added after 1.0, with their node; everything else is KMIG_1.0.
added="kmig_send_setup_ex@@KMIG_1.1 kmig_dirty_mark@@KMIG_1.2 kmig_fetch@@KMIG_1.3
kmig_postcopy_progress@@KMIG_1.4"

only_versioned_kmig() {
	echo "$exports" | grep -v '^KMIG_1\.[0-4]$' | grep -v '^kmig_[a-z0-9_]*@@KMIG_1\.0$' |
		grep -vxF "$(printf '%s\n' $added)" |
		sed 's/^/# unexpected export: /' | grep . && return 1
	return 0
}

# A function that came later must not appear in KMIG_1.0: programs linked
# against it would then load on a library that lacks it.
added_in_their_node() {
	for a in $added; do
		echo "$exports" | grep -qxF "$a" || { echo "# missing: $a"; return 1; }
	done
}

# Every function the header declares is exported, none forgotten; the
# static inline ring helpers are not symbols at all.
header_api_exported() {
	rc=0
	for f in $(sed -n '/^static inline/d; s/^[a-z].*[ *]\(kmig_[a-z0-9_]*\)(.*/\1/p' "$hdr"); do
		echo "$exports" | grep -qx "$f@@KMIG_1\.[0-4]" ||
			{ echo "# not exported: $f"; rc=1; }
	done
	[ -n "$f" ] && return $rc
}

soname_is_major() {
	readelf -d "$so" | grep -q 'SONAME.*\[libkmig\.so\.1\]'
}

links_resolve() {
	[ "$(readlink "$O/libkmig.so")" = libkmig.so.1 ] &&
	[ "$(readlink "$O/libkmig.so.1")" = libkmig.so.1.2.0 ] &&
	[ -f "$O/libkmig.so.1.2.0" ]
}

# The static archive defines nothing global but kmig_*.
archive_globals_are_kmig() {
	nm -g --defined-only "$O/libkmig.a" | awk 'NF == 3 { print $3 }' |
		grep -v '^kmig_' | sed 's/^/# unexpected global: /' | grep . && return 1
	return 0
}

pkgconfig_works() {
	[ "$(PKG_CONFIG_PATH=$O pkg-config --modversion libkmig)" = 1.2.0 ] &&
	PKG_CONFIG_PATH=$O pkg-config --libs libkmig | grep -q -- '-lkmig'
}

check "only kmig_* symbols exported, at KMIG_1.0 or later nodes" only_versioned_kmig
check "functions added since 1.0 are in their own node" added_in_their_node
# The inline helpers stay out of the library: they are the hot path.
inline_not_exported() {
	! echo "$exports" | grep -q 'kmig_ring_\(ready\|head\|rec\|data\|advance\)@'
}

check "every libkmig.h function is exported" header_api_exported
check "static inline ring helpers are not exported" inline_not_exported
check "soname is libkmig.so.1" soname_is_major
check "libkmig.so -> libkmig.so.1 -> libkmig.so.1.2.0" links_resolve
check "libkmig.a defines only kmig_* globals" archive_globals_are_kmig
check "pkg-config finds libkmig 1.2.0" pkgconfig_works
tap_done
