#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/parallel.sh: how kmig's data path scales with its worker threads
# (make bench-parallel).
#
# Run on the host, it boots the sandbox with multi-threaded TCG and 2 vCPUs
# (scripts/sandbox/run.sh --mttcg --smp 2: one host thread per vCPU, so the
# host's 2 cores run the sandbox in parallel) and runs itself in there.
# Multi-threaded TCG sometimes freezes a vCPU of the sandbox for good while
# a nested KVM guest runs (see run.sh): every step in the sandbox has a
# deadline (KMIG_PAR_STEP_TIMEOUT), a run that misses it ends the sandbox
# (exit 75), and the host boots it once more for the runs not done yet
# (the runs done are kept). How often that happened is in the report.
#
# In the sandbox, for each scenario
#   text    text-like guest memory, --compress zstd (both sides' zstd)
#   random  random guest memory, sent raw
# it fills KMIG_PAR_FILL MiB of a kmig-vmm guest (1 vCPU), migrates it
# over TCP on loopback with --channels 2 and --workers 1, then 2,
# KMIG_PAR_REPS times each (interleaved), and reports per scenario the
# medians of
#   throughput(N)  page data (pages sent with data x 4096, before
#                  compression) over the data phase (total_ms - setup_ms)
#   efficiency     throughput(2) / (2 x throughput(1))
# and where the time goes: the CPU seconds of every thread of both
# kmigctl, both kmig-vmm and kmig's kthreads (kmig/S:W workers, kmig/S VM
# workers), sampled from /proc/PID/task/TID/stat every 0.25 s by
# bench/thread_cpu (largest value seen per thread: kthreads exit with
# their session, so up to a sample's worth of their time is missed), and
# the sandbox's busy time over both vCPUs from /proc/stat. With KMIG_PAR_PROFILE=1 (default) one
# more migration per scenario with --workers 2 runs under `perf record -a`
# (cpu-clock, no PMU under TCG; not counted in the medians): the hottest
# symbols per thread name. Every migration is verified: the destination's
# kmig-vmm --check-after must pass. A benchmark: nothing asserts a time.
#
# Results: the table on stdout; on the host build/bench/parallel.json (the
# runs and the medians), build/bench/parallel-perf-SCENARIO.txt (perf
# report), build/bench/parallel-console.N.log (attempt N's console).
#
# Environment: KMIG_PAR_SCENARIOS ("text random"), KMIG_PAR_WORKERS
# ("1 2"), KMIG_PAR_REPS (3), KMIG_PAR_FILL (MiB, 256), KMIG_PAR_MEM (MiB
# of guest RAM, 512), KMIG_PAR_CHANNELS (2), KMIG_PAR_RATE (the fill's
# pace, MiB/s, 64), KMIG_PAR_PROFILE (1), KMIG_PAR_STEP_TIMEOUT (s, 150),
# KMIG_PAR_TIMEOUT (the sandbox's, s, 780), KMIG_PAR_ATTEMPTS (2);
# KMIG_PAR_REPORT_ONLY=1 prints the table of build/bench/parallel-runs.jsonl
# again without booting anything.
#
# Exit status: 0 when every scenario and worker count has a verified run,
# 1 otherwise (a failed check, or hung twice); the table is printed either
# way.

set -euo pipefail

scenarios=${KMIG_PAR_SCENARIOS:-"text random"}
workers_list=${KMIG_PAR_WORKERS:-"1 2"}
reps=${KMIG_PAR_REPS:-3}
fill=${KMIG_PAR_FILL:-256}
mem=${KMIG_PAR_MEM:-512}
channels=${KMIG_PAR_CHANNELS:-2}
rate=${KMIG_PAR_RATE:-64}
profile=${KMIG_PAR_PROFILE:-1}
step_timeout=${KMIG_PAR_STEP_TIMEOUT:-150}

# --- on the host: boot the sandbox, retry once after a hang ---------------
host_main() {
	local project sbox attempts rc=1 f start
	hangs=0 attempt=0
	project=$(cd "$(dirname "$0")/.." && pwd -P)
	cd "$project"
	# shellcheck source=bench/lib.sh
	. bench/lib.sh
	bench=build/bench
	sbox=build/sandbox
	attempts=${KMIG_PAR_ATTEMPTS:-2}
	mkdir -p "$bench"
	[ "${KMIG_PAR_REPORT_ONLY:-0}" = 1 ] ||
		rm -f "$bench"/parallel.json "$bench"/parallel-perf-*.txt \
			"$bench"/parallel-console.*.log
	# The runs done so far, over all attempts; the sandbox reads it (the
	# project is shared read-only) and skips them.
	runs=$bench/parallel-runs.jsonl
	start=$(date +%s)
	if [ "${KMIG_PAR_REPORT_ONLY:-0}" = 1 ]; then
		attempts=0 attempt=0 hangs=0 rc=0
	else
		: >"$runs"
	fi
	for attempt in $(seq "$attempts"); do
		rc=0
		KMIG_PAR_DONE=$project/$bench/parallel-runs.jsonl \
			KMIG_PAR_ATTEMPT=$attempt KMIG_PAR_HANGS=$hangs \
			KMIG_PAR_TCG=multi \
			scripts/sandbox/run.sh --mttcg --smp 2 --mem 3072 \
			--timeout "${KMIG_PAR_TIMEOUT:-780}" -- bench/parallel.sh ||
			rc=$?
		cp "$sbox/console.log" "$bench/parallel-console.$attempt.log" || true
		[ ! -f "$sbox/out/parallel-runs.jsonl" ] ||
			grep -v '"result":"hung"' "$sbox/out/parallel-runs.jsonl" \
				>>"$bench/parallel-runs.jsonl" || true
		for f in "$sbox"/out/parallel-perf-*.txt; do
			[ ! -f "$f" ] || cp "$f" "$bench/"
		done
		case $rc in
		0 | 1) break ;;
		75 | 125)
			hangs=$((hangs + 1))
			echo "bench-parallel: attempt $attempt hung or timed out (exit $rc; console in $bench/parallel-console.$attempt.log)" >&2
			grep -m 3 -E 'rcu.*(stall|detected)|soft lockup|hung' \
				"$bench/parallel-console.$attempt.log" >&2 || true
			rc=1 ;;
		*)	break ;;
		esac
	done
	wall=$(($(date +%s) - start))
	kver=$(grep -o '"kernel":"[^"]*"' "$runs" | head -n 1 | cut -d'"' -f4 || true)
	report
	echo "JSON: $bench/parallel.json; perf reports: $bench/parallel-perf-*.txt"
	return "$rc"
}

# --- the report ------------------------------------------------------------
# all_runs: every attempt's runs.
all_runs() { grep '"key"' "$runs" 2>/dev/null || true; }

# median SCENARIO WORKERS FIELD: over the verified, unprofiled runs.
median() {
	all_runs | grep "\"scenario\":\"$1\",\"workers\":$2,.*\"profiled\":0," |
		grep '"result":"ok"' | grep -o "\"$3\":[0-9.]*" | cut -d: -f2 |
		sort -g | awk '{ v[NR] = $1 } END { if (!NR) print "null";
			else if (NR % 2) print v[(NR + 1) / 2];
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# median_cpu SCENARIO WORKERS GROUP: the median of a CPU group's seconds
# divided by the data phase (cores' worth of CPU).
median_cores() {
	all_runs | grep "\"scenario\":\"$1\",\"workers\":$2,.*\"profiled\":0," |
		grep '"result":"ok"' | awk -v g="$3" '{
			t = $0; sub(/.*"total_ms":/, "", t); t += 0
			u = $0; sub(/.*"setup_ms":/, "", u); u += 0
			c = $0; sub(/.*"cpu_s":\{/, "", c); sub(/"busiest".*/, "", c)
			v = 0
			if (match(c, "\"" g "\":[0-9.]+")) {
				v = substr(c, RSTART + length(g) + 3, RLENGTH - length(g) - 3)
			}
			if (t > u) print v / ((t - u) / 1000)
		}' | sort -g | awk '{ v[NR] = $1 } END { if (!NR) print "null";
			else printf "%.2f", v[int((NR + 1) / 2)] }'
}

fmt() { [ "$1" = null ] && echo "-" || awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; }

report() {
	local s w t d b ok n med=() eff g groups line top
	# The run's own settings, not this shell's.
	fill=$(grep -o '"fill_mib":[0-9]*' "$runs" | head -n 1 | cut -d: -f2 || true)
	mem=$(grep -o '"mem_mib":[0-9]*' "$runs" | head -n 1 | cut -d: -f2 || true)
	channels=$(grep -o '"channels":[0-9]*' "$runs" | head -n 1 | cut -d: -f2 || true)
	groups="kmigctl-src kmigctl-dst kmig-worker kmig-vm vmm-src vmm-dst vmm-src-vcpu vmm-dst-vcpu"
	printf '\nkmig parallelism: %s MiB filled of %s MiB guests, %s data channels, loopback TCP,\n' \
		"$fill" "$mem" "$channels"
	printf 'sandbox: 2 vCPUs, multi-threaded TCG, %s; median of %s runs; %s attempt(s), %s hung\n\n' \
		"$kver" "$reps" "$attempt" "$hangs"
	printf '%-8s %7s %9s %9s %10s %10s %6s %5s\n' scenario workers total_ms data_ms \
		data_MiB/s wire_MiB/s busy ok
	for s in $scenarios; do
		for w in $workers_list; do
			t=$(median "$s" "$w" total_ms)
			d=$(median "$s" "$w" setup_ms)
			b=$(median "$s" "$w" data_mib_s)
			n=$(median "$s" "$w" wire_mib_s)
			ok=$(all_runs | grep "\"scenario\":\"$s\",\"workers\":$w,.*\"profiled\":0," |
				grep -c '"result":"ok"' || true)
			eval "tp_$w=\$b"
			printf '%-8s %7s %9s %9s %10s %10s %6s %2s/%s\n' "$s" "$w" \
				"$(fmt "$t" %.0f)" \
				"$(if [ "$t" = null ] || [ "$d" = null ]; then echo -; else fmt "$(calc "$t - $d")" %.0f; fi)" \
				"$(fmt "$b" %.1f)" "$(fmt "$n" %.1f)" \
				"$(fmt "$(median "$s" "$w" sandbox_busy)" %.2f)" "$ok" "$reps"
			line="{\"scenario\":\"$s\",\"workers\":$w,\"ok_runs\":$ok,\"total_ms\":$t,\"setup_ms\":$d,\"data_mib_s\":$b,\"wire_mib_s\":$n,\"sandbox_busy\":$(median "$s" "$w" sandbox_busy),\"cores\":{"
			for g in $groups; do
				line+="\"$g\":$(median_cores "$s" "$w" "$g"),"
			done
			med+=("${line%,}}}")
		done
		# shellcheck disable=SC2154
		eff=$(awk -v a="${tp_1:-null}" -v b="${tp_2:-null}" 'BEGIN {
			if (a == "null" || b == "null" || a <= 0) print "null";
			else printf "%.2f", b / (2 * a) }')
		printf '%-8s %-17s %s\n' "$s" "efficiency(2)" "$(fmt "$eff" %.2f)"
		med+=("{\"scenario\":\"$s\",\"efficiency\":$eff}")
	done

	printf '\nwhere the time goes: cores busy during the data phase (CPU s / data s), medians\n'
	printf '%-8s %7s' scenario workers
	for g in $groups; do printf ' %12s' "$g"; done
	echo
	for s in $scenarios; do
		for w in $workers_list; do
			printf '%-8s %7s' "$s" "$w"
			for g in $groups; do
				printf ' %12s' "$(fmt "$(median_cores "$s" "$w" "$g")" %.2f)"
			done
			echo
		done
	done
	for s in $scenarios; do
		top=$(all_runs | grep "\"key\":\"$s:profile\"" | tail -n 1 |
			sed 's/.*"perf_top":\(.*\),"rcu_stall_seen".*/\1/' || true)
		[ -n "$top" ] && [ "$top" != null ] && [ "$top" != "[]" ] || continue
		printf '\nperf, %s, workers 2 (whole sandbox, cpu-clock): hottest thread:symbol\n' "$s"
		echo "$top" | grep -o '{[^}]*}' | head -n 12 | sed -E \
			's/.*"pct":([0-9.]+),"comm":"([^"]*)","dso":"([^"]*)","sym":"([^"]*)".*/  \1%  \2  \4  (\3)/' || true
	done

	{
		printf '{"bench":"parallel","date":"%s","kernel":"%s","qemu":"%s","tcg_thread":"multi","sandbox_cpus":2,"host_cpus":%s,"fill_mib":%s,"mem_mib":%s,"channels":%s,"reps":%s,"attempts":%s,"hangs":%s,"wall_s":%s,' \
			"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$kver" \
			"$(qemu-system-x86_64 --version | head -n 1)" "$(nproc)" \
			"$fill" "$mem" "$channels" "$reps" "$attempt" "$hangs" "$wall"
		printf '"medians":[%s],"runs":[%s]}\n' \
			"$(IFS=,; echo "${med[*]}")" "$(all_runs | paste -sd,)"
	} >"$bench/parallel.json"
}

if [ -z "${KMIG_SANDBOX:-}" ]; then
	host_main
	exit
fi

# --- in the sandbox --------------------------------------------------------
vmm=build/vmm/kmig-vmm
kmigctl=build/user/kmigctl
out=${KMIG_OUT:-/tmp}
done_file=${KMIG_PAR_DONE:-/dev/null}
runs=$out/parallel-runs.jsonl
run=$(mktemp -d /tmp/kmig-par.XXXXXX)
hz=$(getconf CLK_TCK)
port=4600
pids=()
who="bench-parallel"

# shellcheck source=bench/lib.sh
. bench/lib.sh
# shellcheck source=scripts/lib/procs.sh
. scripts/lib/procs.sh

say() { echo "$who: $*" >&2; }

# After a hang, processes may sit in the kernel for good: kill, never wait.
hung_exit() {
	local p
	say "$1: no progress in ${step_timeout}s; ending this sandbox (the host retries the runs not done)"
	dmesg | grep -E 'rcu|stall|lockup|hung' | tail -n 20 >&2 || true
	for p in "${pids[@]}"; do
		kill -9 "$p" 2>/dev/null || true
	done
	trap - EXIT
	exit 75
}
trap kmig_cleanup EXIT

# wait_pid PID SEC: waits up to SEC seconds for PID (a child) to exit and
# returns its status, 124 on timeout (PID is left running).
wait_pid() {
	local i rc=0
	for i in $(seq $(($2 * 10))); do
		if ! kill -0 "$1" 2>/dev/null; then
			wait "$1" || rc=$?
			return "$rc"
		fi
		sleep 0.1
	done
	return 124
}

# busy and total jiffies of the whole sandbox (all CPUs).
cpu_jiffies() {
	local _ u n s i w q sq st
	read -r _ u n s i w q sq st _ </proc/stat
	echo "$((u + n + s + q + sq + st)) $((u + n + s + i + w + q + sq + st))"
}

# sample_threads FILE SRC_VMM DST_VMM SRC_CTL DST_CTL: every 0.25 s, a line
# "group tid ticks" for every thread of the four processes and for kmig's
# kthreads (bench/thread_cpu.c: one process reading /proc, where a shell
# loop cost the sandbox about a fifth of a vCPU).
sample_threads() {
	exec build/bench/thread_cpu 250 vmm-src="$2" vmm-dst="$3" \
		kmigctl-src="$4" kmigctl-dst="$5" >>"$1"
}

# cpu_groups FILE: JSON members "group": CPU seconds (largest value seen
# per thread, less the first for kmig-vmm's, summed), then "busiest": {"group": seconds of its busiest
# thread}.
cpu_groups() {
	awk -v hz="$hz" '
		{
			k = $1 " " $2
			# kmig-vmm threads ran before: what they used meanwhile.
			if (!(k in first)) first[k] = ($1 ~ /^vmm-/) ? $3 : 0
			if (!(k in m) || $3 - first[k] > m[k]) m[k] = $3 - first[k]
		}
		END {
			for (k in m) {
				split(k, a, " ")
				sum[a[1]] += m[k]
				if (m[k] > top[a[1]]) top[a[1]] = m[k]
			}
			n = 0
			for (g in sum) {
				printf("%s\"%s\":%.2f", n++ ? "," : "", g, sum[g] / hz)
			}
			printf("%s\"busiest\":{", n ? "," : "")
			n = 0
			for (g in top)
				printf("%s\"%s\":%.2f", n++ ? "," : "", g, top[g] / hz)
			printf "}"
		}' "$1" 2>/dev/null
}

# perf_top FILE: the hottest (thread name, symbol) pairs of a perf.data, as
# a JSON array.
perf_top() {
	perf report -i "$1" --stdio --sort comm,dso,sym -t ';' \
		--percent-limit 1.5 2>/dev/null | grep -E '^ *[0-9.]+% *;' |
		head -n 15 | awk -F';' '{
			# perf pads every field to its column: "  6.87%  ;comm   ;"
			for (i = 1; i <= 4; i++) gsub(/^ +| +$/, "", $i)
			gsub(/%/, "", $1); gsub(/"/, "", $4)
			sub(/^\[[kr.]\] +/, "", $4)
			printf("%s{\"pct\":%s,\"comm\":\"%s\",\"dso\":\"%s\",\"sym\":\"%s\"}",
				(NR > 1) ? "," : "", $1, $2, $3, $4) }' || true
}

# is_done KEY: a run with KEY was done (whatever its result) in an earlier
# attempt.
is_done() {
	grep -q "\"key\":\"$1\"" "$done_file" 2>/dev/null
}

# one_run SCENARIO WORKERS KEY PROFILE: fill, migrate, verify, record.
one_run() {
	local s=$1 w=$2 key=$3 prof=$4 wl compress spid dpid ipid mpid sampler
	local rc vrc result total setup bytes before normal data_s data_mib wire
	local c0 c1 busy perfpid="" top="null" stall=0 ctl
	port=$((port + 1))
	rm -rf "${run:?}"/*
	case $s in
	text) wl=text:$fill compress=zstd ;;
	random) wl=random:$fill compress=none ;;
	*) say "unknown scenario $s"; exit 2 ;;
	esac
	$vmm --control "$run/src.sock" --mem "$mem" --workload "$wl" \
		--rate "$rate" >"$run/src.log" 2>&1 &
	spid=$!
	pids+=("$spid")
	$vmm --control "$run/dst.sock" --mem "$mem" --incoming \
		--check-after 3 >"$run/dst.log" 2>&1 &
	dpid=$!
	pids+=("$dpid")
	kmig_wait_for "$run/src.log" "kmig-vmm: ready" "$step_timeout" ||
		hung_exit "$key: source start"
	kmig_wait_for "$run/dst.log" "kmig-vmm: ready" "$step_timeout" ||
		hung_exit "$key: destination start"
	kmig_wait_for "$run/src.log" "workload .* done" "$step_timeout" ||
		hung_exit "$key: fill"

	$kmigctl incoming --vmm "$run/dst.sock" --listen "tcp:127.0.0.1:$port" \
		--json --quiet --insecure >"$run/in.json" 2>"$run/in.err" &
	ipid=$!
	pids+=("$ipid")
	sleep 0.5
	if [ "$prof" = 1 ]; then
		# Events created disabled (-D -1), enabled through the control
		# fifo: its ack says perf is recording (setting up takes seconds
		# under TCG).
		mkfifo "$run/perf.ctl" "$run/perf.ack"
		# Under TCG a sample's interrupt always "takes too long": the
		# kernel would lower the sample rate to a handful a second
		# (perf_cpu_time_max_percent); the sandbox is throwaway.
		sysctl -qw kernel.perf_cpu_time_max_percent=0 || true
		perf record -a -e cpu-clock -F 499 -o "$run/perf.data" -D -1 \
			--control "fifo:$run/perf.ctl,$run/perf.ack" \
			>"$run/perf.log" 2>&1 &
		perfpid=$!
		pids+=("$perfpid")
		exec {ctl}>"$run/perf.ctl"
		echo enable >&"$ctl"
		read -r -t "$step_timeout" _ <"$run/perf.ack" ||
			say "$key: perf did not acknowledge; profiling anyway"
	fi
	c0=$(cpu_jiffies)
	$kmigctl migrate --vmm "$run/src.sock" --to "tcp:127.0.0.1:$port" \
		--channels "$channels" --workers "$w" --compress "$compress" \
		--json --quiet --insecure >"$run/out.json" 2>"$run/out.err" &
	mpid=$!
	pids+=("$mpid")
	sample_threads "$run/threads" "$spid" "$dpid" "$mpid" "$ipid" &
	sampler=$!
	pids+=("$sampler")
	rc=0
	wait_pid "$mpid" "$step_timeout" || rc=$?
	[ "$rc" != 124 ] || hung_exit "$key: migrate"
	c1=$(cpu_jiffies)
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	if [ -n "$perfpid" ]; then
		echo disable >&"$ctl" || true
		exec {ctl}>&-
		kill -INT "$perfpid" 2>/dev/null || true
		wait_pid "$perfpid" "$step_timeout" || true
	fi
	wait_pid "$ipid" "$step_timeout" || {
		[ $? != 124 ] || hung_exit "$key: incoming"
		[ "$rc" != 0 ] || rc=1
	}
	vrc=0
	wait_pid "$dpid" "$step_timeout" || vrc=$?
	[ "$vrc" != 124 ] || hung_exit "$key: destination check"
	wait_pid "$spid" "$step_timeout" || true
	! dmesg | grep -qE 'rcu.*stall|soft lockup' || stall=1

	total=$(json_num total_ms "$run/out.json")
	setup=$(json_num setup_ms "$run/out.json")
	bytes=$(json_num bytes_sent "$run/out.json")
	before=$(json_num bytes_before "$run/out.json")
	normal=$(json_num normal "$run/out.json")
	[ -n "$before" ] || before=$((${normal:-0} * 4096))
	result=ok
	[ "$rc" = 0 ] || result="migration-failed($rc)"
	[ "$vrc" = 0 ] || result=check-failed
	data_s=$(calc "(${total:-0} - ${setup:-0}) / 1000")
	data_mib=$(awk -v b="$before" -v t="$data_s" \
		'BEGIN { if (t > 0) printf "%.1f", b / 1048576 / t; else print "null" }')
	wire=$(awk -v b="${bytes:-0}" -v t="$data_s" \
		'BEGIN { if (t > 0) printf "%.1f", b / 1048576 / t; else print "null" }')
	# shellcheck disable=SC2086
	busy=$(echo $c0 $c1 | awk '{ if ($4 > $2) printf "%.2f", ($3 - $1) / ($4 - $2); else print "null" }')
	if [ -n "$perfpid" ] && [ -f "$run/perf.data" ]; then
		perf report -i "$run/perf.data" --stdio --sort comm \
			>"$out/parallel-perf-$s.txt" 2>/dev/null || true
		perf report -i "$run/perf.data" --stdio --sort comm,dso,sym \
			--percent-limit 0.5 >>"$out/parallel-perf-$s.txt" 2>/dev/null || true
		top="[$(perf_top "$run/perf.data")]"
	fi
	printf '{"key":"%s","scenario":"%s","workers":%s,"channels":%s,"profiled":%s,"fill_mib":%s,"mem_mib":%s,"total_ms":%s,"setup_ms":%s,"bytes_sent":%s,"page_bytes":%s,"data_mib_s":%s,"wire_mib_s":%s,"sandbox_busy":%s,"cpu_s":{%s},"perf_top":%s,"rcu_stall_seen":%s,"kernel":"%s","attempt":%s,"result":"%s"}\n' \
		"$key" "$s" "$w" "$channels" "$prof" "$fill" "$mem" "${total:-null}" \
		"${setup:-null}" "${bytes:-null}" "$before" "$data_mib" "$wire" \
		"$busy" "$(cpu_groups "$run/threads")" "$top" "$stall" "$KVER" \
		"${KMIG_PAR_ATTEMPT:-1}" "$result" >>"$runs"
	say "$key: total ${total:-?} ms, setup ${setup:-?} ms, data $data_mib MiB/s, wire $wire MiB/s, sandbox busy $busy, $result"
	if [ "$result" != ok ]; then
		cat "$run/out.err" "$run/in.err" "$run/dst.log" >&2 || true
	fi
	pids=()
}

insmod ./kmig.ko
ip link set lo up
: >"$runs"
say "attempt ${KMIG_PAR_ATTEMPT:-1}; $(all_runs | wc -l) run(s) done before"
for rep in $(seq "$reps"); do
	for s in $scenarios; do
		for w in $workers_list; do
			is_done "$s:$w:$rep" || one_run "$s" "$w" "$s:$w:$rep" 0
		done
	done
done
if [ "$profile" = 1 ] && command -v perf >/dev/null; then
	for s in $scenarios; do
		is_done "$s:profile" || one_run "$s" 2 "$s:profile" 1
	done
fi
# Every run verified.
! grep -v '"result":"ok"' "$runs" | grep -q .
