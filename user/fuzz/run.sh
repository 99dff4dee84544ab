#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the stream fuzzers (user/fuzz/Makefile builds them).
#
#   run.sh quick BUILD_DIR   replay every committed input, then fuzz each
#                            harness FUZZ_SECONDS (default 30) from the
#                            corpus; new inputs stay in BUILD_DIR/work.
#                            `make fuzz-stream-quick`, part of make check.
#   run.sh long BUILD_DIR    fuzz each harness FUZZ_SECONDS (default 600),
#                            then merge what found new coverage into
#                            corpus/<harness> (-merge=1), so the committed
#                            corpus grows. `make fuzz-stream`.
#
# Every harness runs under ASan and UBSan; a crash, a sanitizer report, an
# input slower than 5 s, more than 512 MiB of RSS or a single allocation
# over 64 MiB (the largest legitimate one is the 16 MiB frame buffer) is
# a failure: libFuzzer writes the input to BUILD_DIR/crashes/ and this
# script exits 1. A finding, once fixed, goes into corpus/<harness>/ as a
# regression seed (named crash-<what>), so the replay keeps checking it.
#
# Harnesses and the longest input each takes (a RAM frame with a few
# pages; a state blob with two vCPUs' XSAVE):
#   fuzz_hello 2048, fuzz_frames 65536, fuzz_ram 16400, fuzz_state 32768.

set -euo pipefail

mode=${1:-}
build=${2:-}
if [ -z "$mode" ] || [ -z "$build" ] || { [ "$mode" != quick ] && [ "$mode" != long ]; }; then
	echo "usage: $0 quick|long BUILD_DIR" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$build" && pwd)
if [ "$mode" = quick ]; then
	seconds=${FUZZ_SECONDS:-30}
else
	seconds=${FUZZ_SECONDS:-600}
fi

declare -A max_len=([fuzz_hello]=2048 [fuzz_frames]=65536
		    [fuzz_ram]=16400 [fuzz_state]=32768)
# FUZZ_HARNESSES="fuzz_ram fuzz_state": only those.
read -r -a harnesses <<<"${FUZZ_HARNESSES:-fuzz_hello fuzz_frames fuzz_ram fuzz_state}"
common=(-timeout=5 -rss_limit_mb=512 -malloc_limit_mb=64
	-dict="$here/kmig.dict")

# ASan's default 256 MiB quarantine of freed memory alone would come near
# the RSS limit, libFuzzer frees an input copy every run.
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64}

mkdir -p "$build/crashes" "$build/logs"
fail=0
for h in "${harnesses[@]}"; do
	bin=$build/$h
	corpus=$here/corpus/$h
	work=$build/work/$h
	log=$build/logs/$h.log
	mkdir -p "$work" "$corpus"

	# Every committed input once: the regression seeds must still pass.
	mapfile -t inputs < <(find "$corpus" -type f | sort)
	if [ ${#inputs[@]} -gt 0 ] &&
	   ! "$bin" "${common[@]}" -artifact_prefix="$build/crashes/$h-" \
		"${inputs[@]}" >"$log.replay" 2>&1; then
		echo "fuzz: $h: a committed input fails (log: $log.replay)" >&2
		grep -E 'ERROR|SUMMARY|assertion|Running:' "$log.replay" | tail -n 5 >&2
		fail=1
		continue
	fi

	if ! "$bin" "${common[@]}" -max_len="${max_len[$h]}" \
		-max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix="$build/crashes/$h-" \
		"$work" "$corpus" >"$log" 2>&1; then
		echo "fuzz: $h: FAILED (log: $log, input in $build/crashes/)" >&2
		grep -E 'ERROR|SUMMARY|assertion|artifact' "$log" | tail -n 8 >&2
		fail=1
		continue
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 || true)
	echo "fuzz: $h: ${#inputs[@]} committed inputs replayed, ${execs:-?} executions in ${seconds} s, ${cov:-cov: ?}, no findings"

	if [ "$mode" = long ]; then
		before=${#inputs[@]}
		"$bin" "${common[@]}" -max_len="${max_len[$h]}" -merge=1 \
			"$corpus" "$work" >"$log.merge" 2>&1 || {
			echo "fuzz: $h: merge failed (log: $log.merge)" >&2
			fail=1
			continue
		}
		after=$(find "$corpus" -type f | wc -l)
		echo "fuzz: $h: corpus $before -> $after inputs ($corpus)"
	fi
done
exit $fail
