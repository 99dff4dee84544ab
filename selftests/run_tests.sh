#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run_tests.sh [NAME...]: the kmig kselftest suite. Meant to run as root
# inside the sandbox (scripts/sandbox/run.sh -- selftests/run_tests.sh),
# from the project root; works on any host where kmig.ko may be loaded.
#
# Loads ./kmig.ko, runs every build/selftests/*_test, then the TLS unit
# test build/user-san/tests/tls_test where `make unit` built it (its kTLS
# cases need the kernel's tls ULP, which only the sandbox has), and the
# commands in selftests/extra_tests (or only the test binaries NAMEd,
# tls_test among them: NAME is looked up there too), then unloads the
# module; e.g. scripts/sandbox/run.sh -- selftests/run_tests.sh uapi_test.
# Each binary's kselftest TAP is folded into one TAP stream, its cases
# renumbered and prefixed with the binary's name. After each step the
# kernel log since that step's marker must be free of BUG/WARNING/Oops/
# leak reports, and kmig.ko's live-object counters (the objects file, one
# "NAME COUNT" per line) must read 0 again within 10 s: no /dev/kmig file
# is open then and nothing is in flight; they are read once more before
# rmmod. A module without that file is not checked. The last line is
# "N passed, N failed, N skipped"; the exit status is 0 only when nothing
# failed.
#
# Environment:
#   KMIG_TEST_TIMEOUT  seconds per binary (600)
#   KMIG_MODULE        module to load (./kmig.ko); "none" loads nothing,
#                      for testing this script without a module
#   KMIG_TEST_DIR      where the test binaries are (build/selftests)
#   KMIG_TLS_TEST      the TLS unit test (build/user-san/tests/tls_test)
#   KMIG_OUT           where the TAP, per-binary logs and dmesg are kept
#   KMIG_EXTRA_TESTS   the extra test list (selftests/extra_tests)
#   KMIG_OBJECTS       kmig.ko's object counters
#                      (/sys/kernel/debug/kmig/objects)

set -uo pipefail
shopt -s nullglob lastpipe

timeout_s=${KMIG_TEST_TIMEOUT:-600}
module=${KMIG_MODULE:-./kmig.ko}
test_dir=${KMIG_TEST_DIR:-build/selftests}
tls_test=${KMIG_TLS_TEST:-build/user-san/tests/tls_test}
extra=${KMIG_EXTRA_TESTS:-selftests/extra_tests}
objects=${KMIG_OBJECTS:-/sys/kernel/debug/kmig/objects}
out=${KMIG_OUT:-$(mktemp -d /tmp/kmig-selftests.XXXXXX)}
bad_re='BUG:|WARNING:|Oops|general protection|possible recursive locking|leak|Call Trace|soft lockup|hard LOCKUP|rcu_.*stall|blocked for more than|Poison overwritten|Redzone|Object padding|Freepointer'

mkdir -p "$out"
tap=$out/selftests.tap
: >"$tap"

n=0
passed=0
failed=0
skipped=0
step=0

emit() {
	printf '%s\n' "$1"
	printf '%s\n' "$1" >>"$tap"
}

diag() {
	local line
	while IFS= read -r line; do
		emit "# $line"
	done <<<"$1"
}

pass() {
	n=$((n + 1)); passed=$((passed + 1)); emit "ok $n $1"
}

fail() {
	n=$((n + 1)); failed=$((failed + 1)); emit "not ok $n $1"
	[ $# -lt 2 ] || diag "$2"
}

skip() {
	n=$((n + 1)); skipped=$((skipped + 1)); emit "ok $n $1 # SKIP $2"
}

finish() {
	emit "1..$n"
	dmesg >"$out/dmesg.txt" 2>&1
	emit "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}

# Kernel log markers: each step writes one, and its check reads the log
# from there. Numbered, so one step's marker never matches another's.
marker=
mark() {
	step=$((step + 1))
	marker="kmig-selftest: start $step $1"
	echo "<6>$marker" >/dev/kmsg
}

# check_dmesg NAME: the kernel log since the last marker, saved to the out
# directory; succeeds when it has nothing that looks like a kernel bug.
check_dmesg() {
	local log=$out/${1//[^A-Za-z0-9_.-]/_}.dmesg hits
	dmesg 2>&1 | awk -v m="$marker" '
		found && index($0, "kmig-selftest: start ") == 0 { print }
		substr($0, length($0) - length(m) + 1) == m { found = 1 }
		END { if (!found) exit 1 }' >"$log" ||
		{ dmesg >"$log" 2>&1; echo "marker not in the log (overwritten?); checked all of it" >>"$log"; }
	hits=$(grep -E "$bad_re" "$log" | grep -v 'kmig-selftest: start ') || return 0
	echo "$hits"
	return 1
}

# check_objects NAME: kmig.ko's live objects are all gone. Every line of
# the objects file is "NAME COUNT"; the file is read every 0.2 s for up to
# 10 s (files close and work drains after the last process exits) until
# every count is 0. Fails with the lines that are not; no file, no check.
check_objects() {
	local what="$1: module objects back to zero" left
	[ -e "$objects" ] || return 0
	for _ in $(seq 50); do
		left=$(awk 'NF && $2 != "0"' "$objects" 2>&1) && [ -z "$left" ] &&
			{ pass "$what"; return; }
		sleep 0.2
	done
	fail "$what" "$left"
}

# Each test program runs in a cgroup of its own, when cgroup2 is there (it
# is in the sandbox): the harness runs every case in its own process group,
# and a timed-out or crashed parent, or a helper daemon, can leave processes
# behind that keep /dev/kmig open and make rmmod fail. cgroup.kill reaches
# all of them. Elsewhere, fall back to killing copies of the test program.
new_cgroup() {
	local cg=/sys/fs/cgroup/kmig-test-$$-$step
	[ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ] || return 0
	mkdir "$cg" 2>/dev/null || return 0
	if [ -e "$cg/cgroup.kill" ]; then
		echo "$cg"
	else
		rmdir "$cg"
	fi
}

# reap CGROUP EXE: kill what is left of a test program.
reap() {
	local cg=$1 exe=$2 left p
	if [ -n "$cg" ]; then
		left=$(wc -l <"$cg/cgroup.procs")
		[ "$left" -eq 0 ] || diag "killing $left processes the test left running"
		echo 1 >"$cg/cgroup.kill"
		for _ in $(seq 50); do
			[ -s "$cg/cgroup.procs" ] || break
			sleep 0.1
		done
		rmdir "$cg" || diag "cannot remove $cg"
		return
	fi
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$exe" ] || continue
		kill -9 "${p#/proc/}" 2>/dev/null && diag "killed leftover ${p#/proc/} of $exe"
	done
}

# run_one NAME CMD [ARGS...]: run a test program and fold its TAP in.
run_one() {
	local name=$1 log=$out/${1//[^A-Za-z0-9_.-]/_}.log
	local line res desc dir last_case='' plan=''
	local results=0 fails=0 rc why='' hits exe cg pid start
	shift
	exe=$(readlink -f "$(command -v "$1")")
	mark "$name"
	emit "# ---- $name ----"

	cg=$(new_cgroup)
	start=$SECONDS
	(
		[ -z "$cg" ] || echo "$BASHPID" >"$cg/cgroup.procs"
		exec timeout -k 10 "$timeout_s" "$@"
	) </dev/null >"$log" 2>&1 &
	pid=$!

	# Follow the output file, not a pipe: a process the test left behind
	# could hold a pipe open for ever; tail stops when the program ends.
	tail -s 0.2 -n +1 -f --pid="$pid" "$log" |
	while IFS= read -r line || [ -n "$line" ]; do
		if [[ $line =~ ^(not\ )?ok\ [0-9]+(\ (.*))?$ ]]; then
			res=${BASH_REMATCH[1]}
			desc=${BASH_REMATCH[3]}
			# 6.1's harness prints a skip as "ok N # SKIP reason",
			# without the name: take it from the case's RUN line.
			[[ $desc != "#"* ]] || desc="$last_case $desc"
			dir=
			if [[ $desc == *" # "* ]]; then
				dir=${desc#* # }
				desc=${desc%% # *}
			fi
			results=$((results + 1))
			case "$res:${dir^^}" in
			:SKIP*) skip "$name: $desc" "${dir:5}" ;;
			:*) pass "$name: $desc${dir:+ # $dir}" ;;
			*) fails=$((fails + 1)); fail "$name: $desc${dir:+ # $dir}" ;;
			esac
		elif [[ $line =~ ^1\.\.([0-9]+) ]]; then
			plan=${BASH_REMATCH[1]}
			[[ $line != *"# SKIP"* ]] || why=${line#*# SKIP }
		elif [[ $line =~ ^#\ +RUN\ +([^ ]+) ]]; then
			last_case=${BASH_REMATCH[1]}
			emit "$line"
		elif [[ $line == "TAP version "* ]]; then
			:
		elif [[ $line == "#"* ]]; then
			emit "$line"
		else
			emit "# $line"
		fi
	done
	wait "$pid" 2>/dev/null
	rc=$?
	reap "$cg" "$exe"
	emit "# $name: exit status $rc after $((SECONDS - start))s"

	# Whatever the TAP said, the way the program ended must agree.
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		fail "$name: timed out after ${timeout_s}s"
	elif [ "$rc" -gt 128 ]; then
		fail "$name: killed by signal $((rc - 128))"
	elif [ "$results" -eq 0 ]; then
		# No TAP: a plain program; its exit status is the result
		# (4 is kselftest's KSFT_SKIP).
		case "$rc" in
		0) pass "$name" ;;
		4) skip "$name" "${why:-exit status 4}" ;;
		*) fail "$name" "exit status $rc" ;;
		esac
	elif [ -n "$plan" ] && [ "$results" -lt "$plan" ]; then
		fail "$name: reported $results of $plan tests (exit status $rc)"
	elif [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ] && [ "$fails" -eq 0 ]; then
		fail "$name: exit status $rc but no test failed"
	fi

	check_objects "$name"
	if hits=$(check_dmesg "$name"); then
		pass "$name: dmesg clean"
	else
		fail "$name: dmesg clean" "$hits"
	fi
}

# The test programs, in order: build/selftests/*_test and tls_test, or the
# NAMEs given.
tests=()
if [ $# -gt 0 ]; then
	for t in "$@"; do
		if [ "$t" = "$(basename "$tls_test")" ] && [ ! -e "$test_dir/$t" ]; then
			tests+=("$tls_test")
		else
			tests+=("$test_dir/$t")
		fi
	done
else
	for t in "$test_dir"/*_test; do
		[ -f "$t" ] && [ -x "$t" ] && tests+=("$t")
	done
	# Built by `make unit` (ASan), which make check runs first.
	[ -f "$tls_test" ] && [ -x "$tls_test" ] && tests+=("$tls_test")
fi

emit "TAP version 13"
emit "# kmig selftests on $(uname -r), timeout ${timeout_s}s per binary, logs in $out"

if [ "$module" != none ]; then
	if [ ! -f "$module" ]; then
		fail "insmod $module" "$module missing: build it first (make kmod)"
		finish
	fi
	vermagic=$(modinfo -F vermagic "$module" 2>/dev/null)
	if [ "${vermagic%% *}" != "$(uname -r)" ]; then
		fail "insmod $module" "built for '${vermagic%% *}', running $(uname -r)"
		finish
	fi
	# A module left over from an earlier run in the same boot.
	! grep -q '^kmig ' /proc/modules || rmmod kmig
	mark insmod
	# insmod does not resolve dependencies; modprobe loads them.
	for dep in $(modinfo -F depends "$module" | tr ',' ' '); do
		modprobe "$dep"
	done
	if ! err=$(insmod "$module" 2>&1); then
		fail "insmod $module" "$err"
		finish
	elif ! hits=$(check_dmesg insmod); then
		fail "insmod $module" "$hits"
	else
		pass "insmod $module"
	fi
	# The sandbox mounts debugfs; elsewhere it may not be.
	[ -n "${KMIG_OBJECTS:-}" ] || mountpoint -q /sys/kernel/debug ||
		mount -t debugfs none /sys/kernel/debug 2>/dev/null
fi
[ -e "$objects" ] ||
	emit "# no $objects (a kmig.ko without object counters): not checking that module objects go back to zero"

if [ ${#tests[@]} -eq 0 ] && [ $# -eq 0 ]; then
	fail "test binaries" "no executable $test_dir/*_test: build them first (make selftests)"
fi
for t in "${tests[@]}"; do
	if [ -x "$t" ]; then
		run_one "$(basename "$t")" "$t"
	else
		fail "$(basename "$t")" "$t: no such test program"
	fi
done

# Extra test commands, one per line: a program (a path relative to the
# project root, or in PATH) and its arguments, split at blanks, no quoting.
if [ $# -eq 0 ] && [ -f "$extra" ]; then
	while read -r -a argv; do
		case "${argv[0]:-#}" in '#'*) continue ;; esac
		run_one "${argv[*]}" "${argv[@]}"
	done <"$extra"
fi

if [ "$module" != none ]; then
	check_objects "before rmmod"
	mark rmmod
	# The last test's files may still be closing (deferred fput).
	for _ in $(seq 20); do
		err=$(rmmod kmig 2>&1) && break
		sleep 0.5
	done
	if grep -q '^kmig ' /proc/modules; then
		fail "rmmod kmig" "$err"
	else
		pass "rmmod kmig"
	fi
	if hits=$(check_dmesg rmmod); then
		pass "dmesg clean after rmmod"
	else
		fail "dmesg clean after rmmod" "$hits"
	fi
fi

finish
