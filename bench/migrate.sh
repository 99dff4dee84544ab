#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# migrate.sh: kmig's precopy benchmark, run inside the sandbox (make bench).
# Migrates guests of the same RAM size running each workload over TCP on
# loopback, and prints per workload: total time, downtime, bytes sent,
# CPU time (kmigctl on both sides plus kmig's kernel workers), together
# with the sandbox's memcpy bandwidth measured in the same run, so the
# numbers read as ratios. A benchmark, not a test: nothing here asserts a
# time. Results: a table on stdout, JSON lines in $KMIG_OUT/bench.json.
#
# Environment: KMIG_BENCH_MEM (MiB, 128), KMIG_BENCH_WORKLOADS,
# KMIG_BENCH_CHANNELS (2). A workload may end in "+zstd" or "+zstd:LEVEL":
# the same guest workload, migrated with --compress zstd[:LEVEL] (text+zstd
# next to text shows what compression buys). KMIG_BENCH_MODULE,
# KMIG_BENCH_KMIGCTL and KMIG_BENCH_VMM (./kmig.ko, build/user/kmigctl,
# build/vmm/kmig-vmm) run another build, e.g. an older one saved under
# build/, side by side with this one in the same sandbox run.

set -euo pipefail

mem=${KMIG_BENCH_MEM:-128}
channels=${KMIG_BENCH_CHANNELS:-2}
workloads=${KMIG_BENCH_WORKLOADS:-"idle zero text text+zstd random dirty:8:64"}
vmm=${KMIG_BENCH_VMM:-build/vmm/kmig-vmm}
kmigctl=${KMIG_BENCH_KMIGCTL:-build/user/kmigctl}
module=${KMIG_BENCH_MODULE:-./kmig.ko}
out=${KMIG_OUT:-/tmp}
run=$(mktemp -d /tmp/kmig-bench.XXXXXX)
json=$out/bench.json
port=4500
pids=()

# shellcheck source=scripts/lib/procs.sh
. scripts/lib/procs.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh
who=bench
trap kmig_cleanup EXIT

insmod "$module"
ip link set lo up
memcpy=$(build/bench/memcpy_bw)
hz=$(getconf CLK_TCK)
: >"$json"

printf '\nkmig precopy benchmark: %s MiB guests, %s data channels, loopback TCP\n' \
	"$mem" "$channels"
printf 'sandbox memcpy bandwidth: %s MiB/s (time to copy the RAM once: %.0f ms)\n\n' \
	"$memcpy" "$(calc "$mem * 1000 / $memcpy")"
printf '%-14s %9s %9s %9s %10s %9s %7s %9s\n' workload total_ms down_ms MiB_sent \
	xmemcpy cpu_s zratio result
for w in $workloads; do
	port=$((port + 1))
	rm -f "$run"/*
	# "text+zstd:3": workload text, kmigctl migrate --compress zstd:3.
	guest=${w%%+*}
	compress=none
	[ "$guest" = "$w" ] || compress=${w#*+}
	$vmm --control "$run/src.sock" --mem "$mem" --workload "$guest" \
		>"$run/src.log" 2>&1 &
	pids+=($!)
	$vmm --control "$run/dst.sock" --mem "$mem" --incoming \
		--check-after 3 >"$run/dst.log" 2>&1 &
	dst=$!
	kmig_wait_for "$run/src.log" "kmig-vmm: ready"
	kmig_wait_for "$run/dst.log" "kmig-vmm: ready"
	# Let the workload fill (or start dirtying) its memory first.
	sleep 6

	(TIMEFORMAT='%U %S'; time $kmigctl incoming --vmm "$run/dst.sock" \
		--listen "tcp:127.0.0.1:$port" --json --quiet --insecure \
		>"$run/in.json" 2>"$run/in.err") 2>"$run/in.cpu" &
	incoming=$!
	sleep 0.5
	sample_kthreads "$run/kthreads" &
	sampler=$!
	rc=0
	(TIMEFORMAT='%U %S'; time $kmigctl migrate --vmm "$run/src.sock" \
		--to "tcp:127.0.0.1:$port" --channels "$channels" --json \
		--compress "$compress" --insecure \
		--quiet >"$run/out.json" 2>"$run/out.err") 2>"$run/out.cpu" ||
		rc=$?
	wait "$incoming" || rc=1
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	vrc=0
	wait "$dst" || vrc=$?

	total=$(json_num total_ms "$run/out.json")
	down=$(json_num downtime_ms "$run/out.json")
	bytes=$(json_num bytes_sent "$run/out.json")
	# Page data before / after compression (1.00 when sent raw).
	zbefore=$(json_num bytes_before "$run/out.json")
	zafter=$(json_num bytes_after "$run/out.json")
	zratio=$(awk -v b="${zbefore:-0}" -v a="${zafter:-0}" \
		'BEGIN { if (a > 0) printf "%.2f", b / a; else print "null" }')
	ucpu=$(tail -n 1 "$run/out.cpu" | awk '{ print $1 + $2 }')
	dcpu=$(tail -n 1 "$run/in.cpu" | awk '{ print $1 + $2 }')
	kcpu=$(awk -v hz="$hz" '{ if ($2 > m[$1]) m[$1] = $2 }
		END { for (p in m) s += m[p]; printf "%.3f", s / hz }' \
		"$run/kthreads" 2>/dev/null || echo 0)
	cpu=$(calc "${ucpu:-0} + ${dcpu:-0} + ${kcpu:-0}")
	result=ok
	[ "$rc" = 0 ] || result="fail($rc)"
	[ "$vrc" = 0 ] || result="check-fail"
	# How many memcpy's of the whole RAM the migration took.
	xm=$(calc "${total:-0} / ($mem * 1000 / $memcpy)")
	printf '%-14s %9.0f %9.0f %9.1f %10.1f %9.2f %7s %9s\n' "$w" \
		"${total:-0}" "${down:-0}" \
		"$(calc "${bytes:-0} / 1048576")" "$xm" "$cpu" "$zratio" "$result"
	printf '{"workload":"%s","compress":"%s","mem_mib":%s,"channels":%s,"memcpy_mib_s":%s,"total_ms":%s,"downtime_ms":%s,"bytes_sent":%s,"page_bytes_before":%s,"page_bytes_after":%s,"compression_ratio":%s,"cpu_s":%s,"kmigctl_src_cpu_s":%s,"kmigctl_dst_cpu_s":%s,"kworker_cpu_s":%s,"result":"%s"}\n' \
		"$w" "$compress" "$mem" "$channels" "$memcpy" "${total:-null}" \
		"${down:-null}" "${bytes:-null}" "${zbefore:-null}" \
		"${zafter:-null}" "$zratio" "$cpu" "${ucpu:-null}" \
		"${dcpu:-null}" "$kcpu" "$result" >>"$json"
	if [ "$result" != ok ]; then
		cat "$run/out.err" "$run/in.err" "$run/dst.log" >&2 || true
	fi
done
echo
echo "JSON lines: $json"
