#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# postcopy.sh: kmig's postcopy fault latency against the wire, run inside
# the sandbox (make bench-postcopy). In one sandbox run it measures
#   - the floor under a fault: the loopback TCP round trip of a 16-byte
#     message and one 4 KiB memcpy (bench/wire_rtt.c, medians of 1000);
#   - postcopy migrations of a guest that rewrites a large working set
#     (kmig-vmm --workload dirty:RATE:WS) while the background round
#     streams the rest, switched to postcopy right after the bulk round
#     (--postcopy), the bandwidth capped so that the background round lasts
#     seconds: once with requested pages on the preempt channel (kmig's
#     default, "preempt") and once behind the background stream on data
#     channel 1 (KMIG_BENCH_URGENT_ON_DATA=1, "on-data"), and once on
#     the preempt channel with the urgent threads left at normal priority
#     (KMIG_URGENT_SCHED=normal, "normal-sched", see user/kmigctl/urgent.c),
#     and once asking for the faulting pages only, none after them
#     (KMIG_BENCH_FAULT_AHEAD=0, "no-ahead", see design.md, Asking ahead),
#     KMIG_BENCH_REPS times each, alternating, so that drift spreads over
#     all of them;
# and prints the medians of the destination's fault latency (p50, p99,
# max), the vCPU blocked time, the faults, the migration's total time and
# downtime, and the ratios against the goals:
#   p50 / (2 x RTT + copy) <= 1 and p99 / p50 <= 10.
# Every migration is verified (the destination's checker must pass). A
# benchmark, not a test: nothing asserts a time; a goal missed is printed
# as "missed", a failed migration or check makes the exit status 1.
# Results: the table on stdout, $KMIG_OUT/bench-postcopy.json (the wire,
# every run with its latency histogram, the medians).
#
# Why these defaults: the dirty guest rewrites its working set in page
# order, so it faults only on stale pages the background round (also in
# page order) has not yet re-sent. Capped below the guest's rate, the bulk
# round is lapped (nearly the whole working set goes stale) and the guest
# then runs into stale pages ahead of the background round for seconds;
# with the cap above its rate (dirty:64:128 at 32 MiB/s) the background
# round stays ahead of the guest and it faults 2 to 4 times a migration.
#
# Environment: KMIG_BENCH_MEM (MiB, 256), KMIG_BENCH_WORKLOAD
# (dirty:64:64), KMIG_BENCH_BW (--max-bandwidth MiB/s, 8; 0: none),
# KMIG_BENCH_CHANNELS (2), KMIG_BENCH_REPS (3), KMIG_BENCH_MODES
# ("preempt normal-sched on-data no-ahead"), KMIG_BENCH_CHECK_AFTER (s, 30: the destination's
# check, which must come after postcopy ended).

set -euo pipefail

mem=${KMIG_BENCH_MEM:-256}
workload=${KMIG_BENCH_WORKLOAD:-dirty:64:64}
bw=${KMIG_BENCH_BW:-8}
channels=${KMIG_BENCH_CHANNELS:-2}
reps=${KMIG_BENCH_REPS:-3}
modes=${KMIG_BENCH_MODES:-"preempt normal-sched on-data no-ahead"}
# The destination checks the guest this long after it starts there: after
# postcopy has ended (a check during postcopy reads the pages not yet
# placed as zero, see user/include/kmig_vmm.h, and fails).
check_after=${KMIG_BENCH_CHECK_AFTER:-30}
vmm=build/vmm/kmig-vmm
kmigctl=build/user/kmigctl
out=${KMIG_OUT:-/tmp}
run=$(mktemp -d /tmp/kmig-bench-pc.XXXXXX)
runs=$run/runs.json
json=$out/bench-postcopy.json
port=4700
pids=()

# shellcheck source=scripts/lib/procs.sh
. scripts/lib/procs.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh
who=bench-postcopy
trap kmig_cleanup EXIT

# pc_num KEY FILE: KEY's number inside the report's "postcopy" object.
pc_num() {
	tr -d '\n' <"$2" | sed 's/.*"postcopy": *{//' |
		{ grep -o "\"$1\": *[0-9.]*" || true; } | head -n 1 | sed 's/.*: *//'
}

# pc_str KEY FILE, pc_array KEY FILE: likewise for a string and an array.
pc_str() {
	tr -d '\n' <"$2" | sed 's/.*"postcopy": *{//' |
		{ grep -o "\"$1\": *\"[^\"]*\"" || true; } | head -n 1 |
		sed 's/.*: *"//; s/"$//'
}

pc_array() {
	tr -d '\n' <"$2" | sed 's/.*"postcopy": *{//' |
		{ grep -o "\"$1\": *\[[^]]*\]" || true; } | head -n 1 |
		sed 's/.*: *//; s/ //g'
}

# migrate MODE REP: one postcopy migration; appends a JSON line to $runs.
migrate() {
	local mode=$1 rep=$2 rc=0 vrc=0 incoming dst result env=()
	local p50 p99 max blocked faults requests urgent bg dups pc_ms
	local total down why fetch hist loaded lrtt mean req place serve fmean

	port=$((port + 1))
	rm -f "$run"/*.sock "$run"/*.log "$run"/*.err "$run"/in.json "$run"/out.json
	case $mode in
	preempt) ;;
	normal-sched) env=(KMIG_URGENT_SCHED=normal) ;;
	on-data) env=(KMIG_BENCH_URGENT_ON_DATA=1) ;;
	no-ahead) env=(KMIG_BENCH_FAULT_AHEAD=0) ;;
	*) echo "bench-postcopy: unknown mode $mode" >&2; exit 2 ;;
	esac
	$vmm --control "$run/src.sock" --mem "$mem" --workload "$workload" \
		>"$run/src.log" 2>&1 &
	pids+=($!)
	$vmm --control "$run/dst.sock" --mem "$mem" --incoming \
		--check-after "$check_after" >"$run/dst.log" 2>&1 &
	dst=$!
	pids+=("$dst")
	kmig_wait_for "$run/src.log" "kmig-vmm: ready"
	kmig_wait_for "$run/dst.log" "kmig-vmm: ready"
	sleep 3	# let the rewriting get going

	# The mode's environment on both sides: the urgent threads and the
	# fault thread are the destination's too.
	env "${env[@]}" $kmigctl incoming --vmm "$run/dst.sock" \
		--listen "tcp:127.0.0.1:$port" \
		--json --quiet --insecure >"$run/in.json" 2>"$run/in.err" &
	incoming=$!
	sleep 0.5
	# The round trip beside the migration, in the same load.
	build/bench/wire_rtt --during >"$run/loaded.json" &
	loaded=$!
	# shellcheck disable=SC2046
	env "${env[@]}" $kmigctl migrate --vmm "$run/src.sock" \
		--to "tcp:127.0.0.1:$port" --channels "$channels" --postcopy \
		$([ "$bw" = 0 ] || echo --max-bandwidth "$bw") \
		--json --quiet --insecure >"$run/out.json" 2>"$run/out.err" ||
		rc=$?
	wait "$incoming" || rc=1
	kill -TERM "$loaded" 2>/dev/null || true
	wait "$loaded" || true
	wait "$dst" || vrc=$?

	p50=$(pc_num latency_p50_us "$run/in.json")
	p99=$(pc_num latency_p99_us "$run/in.json")
	max=$(pc_num latency_max_us "$run/in.json")
	blocked=$(pc_num vcpu_blocked_ms "$run/in.json")
	faults=$(pc_num faults "$run/in.json")
	requests=$(pc_num requests "$run/in.json")
	urgent=$(pc_num urgent_pages "$run/in.json")
	bg=$(pc_num background_pages "$run/in.json")
	dups=$(pc_num duplicates "$run/in.json")
	pc_ms=$(pc_num postcopy_ms "$run/in.json")
	hist=$(pc_array latency_log2_us "$run/in.json")
	total=$(json_num total_ms "$run/out.json")
	down=$(json_num downtime_ms "$run/out.json")
	fetch=$(pc_num fetch_ms "$run/out.json")
	why=$(pc_str why "$run/out.json")
	lrtt=$(grep -o '"loaded_rtt_us":[0-9.]*' "$run/loaded.json" | cut -d: -f2)
	mean=$(pc_num requested_mean_us "$run/in.json")
	req=$(pc_num request_mean_us "$run/in.json")
	place=$(pc_num place_mean_us "$run/in.json")
	serve=$(pc_num serve_mean_us "$run/out.json")
	fmean=$(pc_num fetch_mean_us "$run/out.json")
	result=ok
	[ "$rc" = 0 ] || result="migration-failed($rc)"
	[ "$vrc" = 0 ] || [ "$rc" != 0 ] || result=check-failed
	[ -n "$p50" ] || [ "$result" != ok ] || result=no-postcopy
	printf '  %-12s #%s  p50 %6s us  p99 %6s us  max %7s us  blocked %8s ms  faults %6s  total %6.0f ms  down %4.0f ms  %s\n' \
		"$mode" "$rep" "${p50:--}" "${p99:--}" "${max:--}" "${blocked:--}" \
		"${faults:--}" "${total:-0}" "${down:-0}" "$result" >&2
	printf '%-12s   loaded RTT %6s us; a requested page waits %7s us: REQUEST out %5s, source serves %5s (KMIG_FETCH %5s), placing %5s us\n' \
		'' "${lrtt:--}" "${mean:--}" "${req:--}" "${serve:--}" \
		"${fmean:--}" "${place:--}" >&2
	printf '{"mode":"%s","rep":%s,"latency_p50_us":%s,"latency_p99_us":%s,"latency_max_us":%s,"vcpu_blocked_ms":%s,"faults":%s,"requests":%s,"urgent_pages":%s,"background_pages":%s,"duplicates":%s,"postcopy_ms":%s,"latency_log2_us":%s,"total_ms":%s,"downtime_ms":%s,"fetch_ms":%s,"loaded_rtt_us":%s,"requested_mean_us":%s,"request_mean_us":%s,"serve_mean_us":%s,"fetch_mean_us":%s,"place_mean_us":%s,"why":"%s","result":"%s"}\n' \
		"$mode" "$rep" "${p50:-null}" "${p99:-null}" "${max:-null}" \
		"${blocked:-null}" "${faults:-null}" "${requests:-null}" \
		"${urgent:-null}" "${bg:-null}" "${dups:-null}" "${pc_ms:-null}" \
		"${hist:-null}" "${total:-null}" "${down:-null}" "${fetch:-null}" \
		"${lrtt:-null}" "${mean:-null}" "${req:-null}" "${serve:-null}" \
		"${fmean:-null}" "${place:-null}" "$why" "$result" >>"$runs"
	if [ "$result" != ok ]; then
		cat "$run/out.err" "$run/in.err" "$run/dst.log" >&2 || true
		failed=1
	fi
}

# median MODE FIELD: FIELD's median over MODE's verified runs ("null": none).
median() {
	{ grep "\"mode\":\"$1\"," "$runs" || true; } | grep '"result":"ok"' |
		{ grep -o "\"$2\":[0-9.]*" || true; } | cut -d: -f2 | sort -g |
		awk '{ v[NR] = $1 } END { if (!NR) print "null";
			else if (NR % 2) print v[(NR + 1) / 2];
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

fmt() { [ "$1" = null ] && echo "-" || awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; }

# ratio A B [GOAL]: A / B to two places, "-" without both; with GOAL,
# followed by "ok" or "missed" (A / B <= GOAL).
ratio() {
	if [ "$1" = null ] || [ "$2" = null ] || [ "$(calc "$2 == 0")" = 1 ]; then
		echo "-"
		return
	fi
	awk -v a="$1" -v b="$2" -v g="${3:-}" 'BEGIN { r = a / b; printf "%.2f", r
		if (g != "") printf " (%s)", r <= g ? "ok" : "missed" }'
}

insmod ./kmig.ko
ip link set lo up
wire=$(build/bench/wire_rtt)
rtt=$(echo "$wire" | grep -o '"rtt_us":[0-9.]*' | cut -d: -f2)
copy=$(echo "$wire" | grep -o '"copy4k_us":[0-9.]*' | cut -d: -f2)
floor=$(calc "2 * $rtt + $copy")
memcpy=$(build/bench/memcpy_bw)
: >"$runs"
failed=0

printf '\nkmig postcopy fault latency: %s MiB guest, workload %s, --postcopy after the bulk round,\n' \
	"$mem" "$workload"
printf '%s data channels, --max-bandwidth %s, loopback TCP, median of %s runs per mode\n' \
	"$channels" "$([ "$bw" = 0 ] || echo "$bw MiB/s")$([ "$bw" != 0 ] || echo none)" "$reps"
printf 'wire: TCP RTT (16 B ping-pong) %s us, one 4 KiB memcpy %s us: floor 2 x RTT + copy = %s us; memcpy %s MiB/s\n\n' \
	"$rtt" "$copy" "$floor" "$memcpy"
for rep in $(seq "$reps"); do
	for mode in $modes; do
		migrate "$mode" "$rep"
	done
done

printf '\n%-12s %8s %8s %9s %11s %7s %8s %7s %14s %12s %4s\n' mode p50_us p99_us \
	max_us blocked_ms faults total_ms down_ms p50/floor p99/p50 ok
med=() brk=()
for mode in $modes; do
	p50=$(median "$mode" latency_p50_us)
	p99=$(median "$mode" latency_p99_us)
	max=$(median "$mode" latency_max_us)
	blocked=$(median "$mode" vcpu_blocked_ms)
	faults=$(median "$mode" faults)
	total=$(median "$mode" total_ms)
	down=$(median "$mode" downtime_ms)
	ok=$({ grep "\"mode\":\"$mode\"," "$runs" || true; } | grep -c '"result":"ok"' || true)
	eval "p50_${mode//-/_}=\$p50 blocked_${mode//-/_}=\$blocked"
	printf '%-12s %8s %8s %9s %11s %7s %8s %7s %14s %12s %2s/%s\n' "$mode" \
		"$(fmt "$p50" %.0f)" "$(fmt "$p99" %.0f)" "$(fmt "$max" %.0f)" \
		"$(fmt "$blocked" %.1f)" "$(fmt "$faults" %.0f)" \
		"$(fmt "$total" %.0f)" "$(fmt "$down" %.0f)" \
		"$(ratio "$p50" "$floor" 1)" "$(ratio "$p99" "$p50" 10)" "$ok" "$reps"
	med+=("{\"mode\":\"$mode\",\"ok_runs\":$ok,\"latency_p50_us\":$p50,\"latency_p99_us\":$p99,\"latency_max_us\":$max,\"vcpu_blocked_ms\":$blocked,\"faults\":$faults,\"total_ms\":$total,\"downtime_ms\":$down,\"p50_over_floor\":$(ratio "$p50" "$floor" | sed 's/^-$/null/'),\"p99_over_p50\":$(ratio "$p99" "$p50" | sed 's/^-$/null/')}")
done
printf '\nwhere a requested page waits (means over the run, us; medians of the runs):\n'
printf '%-12s %10s %11s %13s %8s %10s %7s %7s %7s %10s\n' mode loaded_rtt \
	loaded_floor p50/l.floor mean request serve fetch place wire+wake
for mode in $modes; do
	lrtt=$(median "$mode" loaded_rtt_us)
	mean=$(median "$mode" requested_mean_us)
	req=$(median "$mode" request_mean_us)
	serve=$(median "$mode" serve_mean_us)
	fmean=$(median "$mode" fetch_mean_us)
	place=$(median "$mode" place_mean_us)
	p50=$(median "$mode" latency_p50_us)
	lfloor=null rest=null
	[ "$lrtt" = null ] || lfloor=$(calc "2 * $lrtt + $copy")
	if [ "$mean" != null ] && [ "$req" != null ] && [ "$serve" != null ] &&
	   [ "$place" != null ]; then
		rest=$(calc "$mean - $req - $serve - $place")
	fi
	printf '%-12s %10s %11s %13s %8s %10s %7s %7s %7s %10s\n' "$mode" \
		"$(fmt "$lrtt" %.0f)" "$(fmt "$lfloor" %.0f)" \
		"$(ratio "$p50" "$lfloor" 1)" "$(fmt "$mean" %.0f)" \
		"$(fmt "$req" %.0f)" "$(fmt "$serve" %.0f)" "$(fmt "$fmean" %.0f)" \
		"$(fmt "$place" %.0f)" "$(fmt "$rest" %.0f)"
	brk+=("{\"mode\":\"$mode\",\"loaded_rtt_us\":$lrtt,\"loaded_floor_us\":$lfloor,\"requested_mean_us\":$mean,\"request_mean_us\":$req,\"serve_mean_us\":$serve,\"fetch_mean_us\":$fmean,\"place_mean_us\":$place,\"wire_and_wakeups_us\":$rest}")
done
# shellcheck disable=SC2154
if [ -n "${p50_normal_sched:-}" ] && [ -n "${p50_preempt:-}" ]; then
	printf '\npreempt / normal-sched: p50 %s, vCPU blocked %s (below 1: the real-time priority saves that much)\n' \
		"$(ratio "$p50_preempt" "$p50_normal_sched")" \
		"$(ratio "$blocked_preempt" "$blocked_normal_sched")"
fi
if [ -n "${p50_on_data:-}" ] && [ -n "${p50_preempt:-}" ]; then
	printf '\npreempt / on-data: p50 %s, vCPU blocked %s (below 1: the preempt channel saves that much)\n' \
		"$(ratio "$p50_preempt" "$p50_on_data")" \
		"$(ratio "$blocked_preempt" "$blocked_on_data")"
fi
cat <<EOF

floor = 2 x RTT + copy: the goal for p50 (a fault's REQUEST out, the page
back, the page placed); goal p99/p50 <= 10. "missed" marks a goal not met.
loaded_rtt: the same 16-byte ping-pong, one every 2 ms while the
migration runs (bench/wire_rtt.c --during), loaded_floor 2 x it + copy.
The breakdown: mean wait of a requested page (fault read to placed);
request: the destination's fault thread until the REQUEST is sent;
serve: the source's page server from the REQUEST read until its RAM frame
is sent (fetch: of it, KMIG_FETCH); place: the destination from the RAM
frame read until placed; wire+wake: the rest (the network both ways and
the threads' wake-ups).
preempt: requested pages on the preempt channel, the urgent threads at
SCHED_FIFO 1, each fault asking for up to 15 missing pages after it too
(kmig's default); normal-sched: the same at normal priority
(KMIG_URGENT_SCHED=normal); on-data: KMIG_BENCH_URGENT_ON_DATA=1,
requested pages on data channel 1 behind the background stream;
no-ahead: KMIG_BENCH_FAULT_AHEAD=0, only the faulting pages asked for.
Latencies and blocked time are the destination's report
(postcopy.latency_*_us, postcopy.vcpu_blocked_ms: the sum of the faults'
latencies); total and downtime the source's.
EOF
{
	printf '{"date":"%s","kernel":"%s","mem_mib":%s,"workload":"%s","max_bandwidth_mib_s":%s,"channels":%s,"reps":%s,"memcpy_mib_s":%s,\n' \
		"$(date -u +%FT%TZ)" "$(uname -r)" "$mem" "$workload" "$bw" \
		"$channels" "$reps" "$memcpy"
	printf '"wire":%s,"floor_us":%s,\n' "$wire" "$floor"
	printf '"medians":[%s],\n' "$(IFS=,; echo "${med[*]}")"
	printf '"breakdown":[%s],\n' "$(IFS=,; echo "${brk[*]}")"
	printf '"runs":[%s]}\n' "$(paste -sd, "$runs")"
} >"$json"
echo
echo "JSON: $json"
exit "$failed"
