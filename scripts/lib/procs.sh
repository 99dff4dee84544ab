# SPDX-License-Identifier: GPL-2.0
#
# Shell helpers shared by the scripts that drive kmig-vmm and kmigctl
# inside the sandbox (scripts/demo.sh, bench/migrate.sh). Source it; the
# caller sets $who (its name in messages) and appends background pids to
# the array $pids.

# kmig_wait_for FILE PATTERN [SEC]: waits up to SEC (60) seconds for a line
# matching PATTERN in FILE; on timeout says so, shows FILE's end and fails.
kmig_wait_for() {
	local i
	for i in $(seq $((${3:-60} * 10))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "$who: timed out waiting for '$2' in $1" >&2
	tail -n 30 "$1" >&2 || true
	return 1
}

# kmig_cleanup: kills what was started and unloads the module, so an
# interrupted run leaves nothing behind.
kmig_cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if grep -qs '^kmig ' /proc/modules; then
		rmmod kmig || echo "$who: rmmod kmig failed" >&2
	fi
}
