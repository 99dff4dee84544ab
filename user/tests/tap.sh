# SPDX-License-Identifier: GPL-2.0
# Minimal TAP output for the shell unit tests: `. tests/tap.sh`, then
# `check "what" command...` per test, then `tap_done`.

tap_n=0
tap_failed=0
echo "TAP version 13"

# check DESCRIPTION COMMAND...: one test point, ok when COMMAND succeeds.
check() {
	desc=$1
	shift
	tap_n=$((tap_n + 1))
	if "$@"; then
		echo "ok $tap_n $desc"
	else
		echo "not ok $tap_n $desc"
		tap_failed=$((tap_failed + 1))
	fi
}

skip() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n $1 # SKIP $2"
}

tap_done() {
	echo "1..$tap_n"
	echo "# $((tap_n - tap_failed)) passed, $tap_failed failed"
	[ "$tap_failed" = 0 ]
}
