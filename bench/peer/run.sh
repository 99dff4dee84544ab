#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/peer/run.sh: kmig against QEMU's own live migration, side by side
# in one sandbox run (make bench-peer). Runs inside the sandbox, from the
# project root, with the host's root filesystem (so the host's QEMU).
#
# For each scenario it migrates, KMIG_PEER_REPS times each,
#   - a QEMU guest: qemu-system-x86_64 -accel kvm (nested in the sandbox)
#     running bench/peer/workload.c, by default as a bare multiboot kernel
#     (guest_bare.c; KMIG_PEER_GUEST=linux: Debian's kernel with
#     guest_init.c as its whole initramfs, see "Known limit" in
#     Documentation/benchmarks.md), driven over QMP, source to an
#     -incoming destination on 127.0.0.1;
#     every repetition migrates the guest on (the last destination is the
#     next source), so it boots once per scenario;
#   - a kmig-vmm guest of the same RAM size with the same amount of
#     untouched, zero, text-like, random or rewritten memory, by kmigctl
#     over TCP on 127.0.0.1;
# and prints the medians: total time, downtime, bytes on the wire, CPU
# time of the migration, and kmig/QEMU ratios, with the sandbox's memcpy
# bandwidth for scale. Every migration is verified: QEMU's guest must run
# on the destination and print a verify pass of its memory there; kmig's
# destination must pass its checker. A benchmark: nothing here asserts a
# time.
#
# Results: the table on stdout, $KMIG_OUT/bench-peer.json (every run and
# the medians, with the exact settings of both peers).
#
# Scenario postcopy (opt-in: KMIG_PEER_SCENARIOS=postcopy; not in the
# default list, which already takes about 16 minutes): a working set
# rewritten faster than the bandwidth cap, which precopy cannot converge;
# both peers switch to postcopy after their first pass (QEMU:
# postcopy-ram, postcopy-preempt and postcopy-blocktime where its
# query-migrate-capabilities lists them, migrate-start-postcopy once
# ram.dirty-sync-count reaches 2; kmig: --postcopy, right after the bulk
# round), and the report adds each peer's vCPU blocked time (QEMU: the
# destination's postcopy-blocktime; kmig: postcopy.vcpu_blocked_ms).
#
# Environment: KMIG_PEER_MEM (MiB, 512), KMIG_PEER_REPS (3),
# KMIG_PEER_SCENARIOS ("idle zero random text dirty"; also postcopy),
# KMIG_PEER_PC_RATE and KMIG_PEER_PC_CAP (postcopy's dirty rate, 48, and
# cap, 8 MiB/s: under TCG the guest may dirty slower than asked, and
# QEMU then converges before the switch: a lower cap), KMIG_PEER_PEERS
# ("qemu kmig"), KMIG_PEER_ACCEL (kvm; tcg runs the QEMU half on a host
# without nested KVM: make check does, as a test of this script),
# KMIG_PEER_GUEST (bare, or linux).
#
# Exit status: 0 when every scenario has a verified run of each peer,
# 1 otherwise (the table is printed either way).

set -euo pipefail

mem=${KMIG_PEER_MEM:-512}
reps=${KMIG_PEER_REPS:-3}
scenarios=${KMIG_PEER_SCENARIOS:-"idle zero random text dirty"}
peers=${KMIG_PEER_PEERS:-"qemu kmig"}
accel=${KMIG_PEER_ACCEL:-kvm}
guest=${KMIG_PEER_GUEST:-bare}
out=${KMIG_OUT:-/tmp}
peer=build/bench/peer
vmm=build/vmm/kmig-vmm
kmigctl=build/user/kmigctl
qmp=$peer/qmp
run=$(mktemp -d /tmp/kmig-peer.XXXXXX)
json_runs=$run/runs.json
port=4600
pids=()

# The same limits on both sides. channels: kmig data channels = QEMU
# multifd channels. fill_rate paces the guests' fills (MiB/s) so that
# the nested guests do not stall the sandbox.
channels=2
downtime_ms=300
fill_rate=64
# dirty: a 256 MiB working set rewritten at 16 MiB/s, both peers capped
# at the same bandwidth; the other scenarios run uncapped (QEMU's
# max-bandwidth raised from its 128 MiB/s default).
dirty_rate=16
dirty_ws=256
dirty_cap=64
uncapped_bytes=$((64 << 30))
# postcopy: a 128 MiB working set rewritten at 48 MiB/s, both capped at
# 8 MiB/s (precopy and postcopy alike): precopy cannot converge (at 16
# MiB/s QEMU's guest, slowed by TCG, once let it converge). kmig's
# destination checks 40 s after the start there, once postcopy is over
# (a check during postcopy reads the pages not yet placed as zero).
pc_rate=${KMIG_PEER_PC_RATE:-48}
pc_ws=128
pc_cap=${KMIG_PEER_PC_CAP:-8}
pc_check=40
# The fills: 3/4 of RAM, but no more than the QEMU guest leaves (Debian's
# kernel keeps about 82 MiB of a 512 MiB guest to itself, the bare guest
# its first 4 MiB).
fill_mib=$((mem * 3 / 4))
[ "$fill_mib" -le $((mem - 128)) ] || fill_mib=$((mem - 128))
[ "$dirty_ws" -le "$fill_mib" ] || dirty_ws=$fill_mib
[ "$pc_ws" -le "$fill_mib" ] || pc_ws=$fill_mib

# shellcheck source=scripts/lib/procs.sh
. scripts/lib/procs.sh
who=bench-peer
# Keep the guests' consoles and the peers' logs for a look after the run.
keep_logs() {
	mkdir -p "$out/peer-logs"
	cp "$run"/*.serial "$run"/*.err "$run"/*.log "$run"/*.json \
		"$out/peer-logs/" 2>/dev/null || true
	kmig_cleanup
}
trap keep_logs EXIT

calc() { awk "BEGIN { print $* }"; }
say() { echo "bench-peer: $*" >&2; }

# scenario NAME: sets what the guest does on both sides, and the limits.
scenario() {
	wl=$1 mib=0 rate=$fill_rate cap=0 compress=none postcopy=0 chans=$channels
	case $1 in
	idle) ;;
	zero | random) mib=$fill_mib ;;
	text) mib=$fill_mib compress=zstd ;;
	dirty) mib=$dirty_ws rate=$dirty_rate cap=$dirty_cap ;;
	postcopy) wl=dirty mib=$pc_ws rate=$pc_rate cap=$pc_cap postcopy=1 chans=1 ;;
	*) say "unknown scenario $1"; exit 2 ;;
	esac
	case $1 in
	idle) kwl=idle ;;
	dirty) kwl=dirty:$dirty_rate:$dirty_ws ;;
	postcopy) kwl=dirty:$pc_rate:$pc_ws ;;
	*) kwl=$1:$mib ;;
	esac
}

# --- CPU accounting -------------------------------------------------------
# Ticks a process spent outside its vCPU threads ("CPU n/KVM" in QEMU and
# kmig-vmm): the migration's share of a VMM. The process's own stat counts
# its exited threads (QEMU's multifd senders) too.
nonvcpu_ticks() {
	local pid=$1 total vcpu=0 t line
	read -r line 2>/dev/null <"/proc/$pid/stat" || return 1
	line=${line##*) }
	set -- $line
	total=$((${12} + ${13}))
	for t in /proc/"$pid"/task/*; do
		read -r line 2>/dev/null <"$t/stat" || continue
		case $line in
		*"(CPU "*"/KVM)"*) ;;
		*) continue ;;
		esac
		line=${line##*) }
		set -- $line
		vcpu=$((vcpu + ${12} + ${13}))
	done
	echo $((total - vcpu))
}

# sample_cpu FILE PID...: every 0.2 s, "key ticks" for the PIDs (outside
# their vCPUs) and for kmig's worker kthreads (which exit with their
# session, so the largest value seen counts).
sample_cpu() {
	local f=$1 p s line
	shift
	while :; do
		for p in "$@"; do
			t=$(nonvcpu_ticks "$p") && echo "$p $t"
		done
		for s in /proc/[0-9]*/stat; do
			read -r line 2>/dev/null <"$s" || continue
			case $line in
			*"(kmig/"*) echo "$line" | awk '{ print "k" $1, $14 + $15 }' ;;
			esac
		done
		sleep 0.2
	done >>"$f"
}

# CPU seconds in a sample file: per key, largest minus first (kthreads:
# largest, they start at zero).
sampled_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '
		!($1 in first) { first[$1] = ($1 ~ /^k/) ? 0 : $2 }
		$2 > max[$1] { max[$1] = $2 }
		END { for (k in max) s += max[k] - first[k]; printf "%.2f", s / hz }' \
		"$1" 2>/dev/null || echo 0
}

lo_bytes() { cat /sys/class/net/lo/statistics/tx_bytes; }

# record PEER SCENARIO REP TOTAL_MS DOWN_MS BYTES CPU_S RESULT [BLOCKED_MS
# REQUESTS] (a postcopy run's vCPU blocked time and pages requested by the
# destination)
record() {
	printf '{"peer":"%s","scenario":"%s","rep":%s,"total_ms":%s,"downtime_ms":%s,"bytes":%s,"cpu_s":%s,"result":"%s","blocked_ms":%s,"requests":%s}\n' \
		"$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "${9:-null}" "${10:-null}" >>"$json_runs"
	printf '  %-5s %-7s #%s  total %6s ms  downtime %5s ms  %8.1f MiB  cpu %5s s  %s%s\n' \
		"$1" "$2" "$3" "$4" "$5" "$(calc "$6 / 1048576")" "$7" "$8" \
		"$([ -z "${9:-}" ] || echo "  blocked $9 ms, ${10:-?} requests")" >&2
}

# --- QEMU ------------------------------------------------------------------
# The guest: the bare multiboot kernel, or Debian's kernel (the sandbox's
# own, or KVER's on a host) with guest_init as its initramfs. Both take
# the workload on their command line or, with kmig_wl=wait, from fw_cfg.
kver=${KVER:-$(uname -r)}
kernel_args="console=ttyS0 quiet panic=-1"
cpu=host
[ "$accel" = kvm ] || cpu=max
case $guest in
bare) guest_files=(-kernel "$peer/peer-bare.bin") ;;
linux) guest_files=(-kernel "/boot/vmlinuz-$kver" -initrd "$peer/peer.cpio") ;;
*) say "KMIG_PEER_GUEST must be bare or linux"; exit 2 ;;
esac
qemu_cmd=(qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -m "$mem" -smp 1
	-nodefaults -display none -no-reboot -nic none "${guest_files[@]}")

# qemu_start NAME EXTRA...: a QEMU whose QMP socket is $run/NAME.qmp and
# whose serial console goes to $run/NAME.serial; sets $qpid (and
# $qpid_NAME).
qemu_start() {
	local name=$1
	shift
	rm -f "$run/$name".*
	"${qemu_cmd[@]}" -append "$kernel_args kmig_wl=wait" \
		-serial "file:$run/$name.serial" \
		-qmp "unix:$run/$name.qmp,server=on,wait=off" "$@" \
		</dev/null >"$run/$name.err" 2>&1 &
	qpid=$!
	eval "qpid_$name=\$qpid"
	pids+=("$qpid")
}

# qemu_quit NAME PID: QEMU NAME quits, or is killed when it cannot (a
# wedged guest vCPU keeps QEMU from stopping the VM).
qemu_quit() {
	timeout 10 $qmp "$run/$1.qmp" '{"execute":"quit"}' >/dev/null || true
	timeout 5 tail --pid="$2" -f /dev/null || kill -9 "$2" 2>/dev/null || true
	wait "$2" 2>/dev/null || true
}

# qemu_snapshot: boots the QEMU guest once, up to the point where it waits
# for its workload, and saves it there ($run/base.state, QEMU's migration
# stream to a file); every scenario starts from that state. A boot that
# shows nothing in 60 s is retried, 10 times: Debian's kernel, nested
# under KVM in a TCG sandbox, deadlocks early in its boot about two times
# in three (a timer interrupt delivered twice, see guest_bare.c); the bare
# guest boots in a few seconds.
qemu_snapshot() {
	local try r status
	for try in $(seq 10); do
		boots=$try
		qemu_start base
		qemu_wait base "peer-guest: waiting" 60 && break
		kill -0 "$qpid" 2>/dev/null || return 1	# QEMU refused to start
		say "QEMU guest boot $try hung; retrying"
		kill "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
		[ "$try" != 10 ] || return 1
	done
	say "QEMU guest booted (try $try): $(grep waiting "$run/base.serial")"
	$qmp "$run/base.qmp" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat >$run/base.state\"}}" >/dev/null
	# A wedged guest vCPU (see above) never lets QEMU stop the VM: give
	# the save 120 s, and kill a QEMU that does not quit.
	qemu_migration_end base 120
	qemu_quit base "$qpid"
	case $status in
	completed) say "QEMU guest saved: $(du -m "$run/base.state" | cut -f1) MiB" ;;
	*) say "saving the booted QEMU guest failed: $r"; rm -f "$run/base.state"; return 1 ;;
	esac
}

# qemu_resume NAME: a QEMU NAME running the saved guest, whose fw_cfg
# gives it this scenario's workload (the guest polls for it).
qemu_resume() {
	qemu_start "$1" -fw_cfg "name=opt/kmig/workload,string=$wl $mib $rate" \
		-incoming defer
	$qmp "$run/$1.qmp" "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"exec:cat $run/base.state\"}}" >/dev/null
}

# The migration settings, identical on both QEMUs (printed in the report).
# postcopy adds postcopy-ram and those of postcopy-preempt and
# postcopy-blocktime this QEMU has ($qemu_pc_caps, see qemu_pc_probe).
# postcopy goes without multifd (QEMU 7.2 with multifd and
# postcopy-preempt stalled after 8 MiB, see Documentation/benchmarks.md):
# QEMU's main channel and its preempt channel, kmig --channels 1 and its
# preempt channel.
qemu_caps() {
	local c='{"capability":"multifd","state":true}' x
	if [ "$postcopy" = 1 ]; then
		c='{"capability":"postcopy-ram","state":true}'
		for x in $qemu_pc_caps; do
			c+=",{\"capability\":\"$x\",\"state\":true}"
		done
	fi
	echo "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":[$c]}}"
}

# postcopy: the cap holds after the switch too (max-postcopy-bandwidth).
qemu_params() {
	local bw=$uncapped_bytes pbw=""
	[ "$cap" = 0 ] || bw=$((cap << 20))
	[ "$postcopy" = 0 ] || pbw=",\"max-postcopy-bandwidth\":$bw"
	printf '{"execute":"migrate-set-parameters","arguments":{"multifd-channels":%s,"multifd-compression":"%s","max-bandwidth":%s,"downtime-limit":%s%s}}\n' \
		"$channels" "$compress" "$bw" "$downtime_ms" "$pbw"
}

# qemu_pc_probe NAME: which of postcopy-preempt and postcopy-blocktime
# QEMU NAME lists in query-migrate-capabilities (QEMU 7.1 added preempt),
# into $qemu_pc_caps; what it lacks into $qemu_pc_missing.
qemu_pc_caps=""
qemu_pc_missing=""
qemu_pc_probe() {
	local caps x
	caps=$($qmp "$run/$1.qmp" '{"execute":"query-migrate-capabilities"}')
	qemu_pc_caps="" qemu_pc_missing=""
	for x in postcopy-preempt postcopy-blocktime; do
		if echo "$caps" | grep -q "\"capability\": *\"$x\""; then
			qemu_pc_caps+=" $x"
		else
			qemu_pc_missing+=" $x"
		fi
	done
	[ -z "$qemu_pc_missing" ] || say "QEMU $qemu_version lacks$qemu_pc_missing"
}

# qemu_start_postcopy NAME SEC: once QEMU NAME's outgoing migration has
# finished its first pass over RAM (ram.dirty-sync-count 2: the bitmap
# synced after the bulk pass), migrate-start-postcopy; fails when the
# migration ends first or SEC seconds pass.
qemu_start_postcopy() {
	local start=$SECONDS r st n
	while [ $((SECONDS - start)) -lt "$2" ]; do
		r=$($qmp "$run/$1.qmp" '{"execute":"query-migrate"}')
		st=$(echo "$r" | grep -o '"status": "[a-z-]*"' | head -n 1 | cut -d'"' -f4)
		case $st in completed | failed | cancelled) return 1 ;; esac
		n=$(echo "$r" | json_field dirty-sync-count)
		if [ "${n:-0}" -ge 2 ]; then
			# Refused when precopy converged first (completing).
			r=$($qmp "$run/$1.qmp" '{"execute":"migrate-start-postcopy"}') ||
				{ say "migrate-start-postcopy: $r"; return 1; }
			return
		fi
		sleep 0.1
	done
	return 1
}

# qemu_wait NAME PATTERN SEC: waits up to SEC seconds for PATTERN on QEMU
# NAME's serial console while that QEMU ($qpid_NAME) lives; else shows
# what it printed. Long waits show the guest's last line every 20 s.
qemu_wait() {
	local pid start=$SECONDS shown=$SECONDS
	eval "pid=\$qpid_$1"
	while [ $((SECONDS - start)) -lt "$3" ]; do
		grep -q "$2" "$run/$1.serial" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		grep -q "peer-guest: error" "$run/$1.serial" 2>/dev/null && break
		if [ $((SECONDS - shown)) -ge 20 ]; then
			say "QEMU $1: $(grep -v '^$' "$run/$1.serial" 2>/dev/null | tail -n 1)"
			shown=$SECONDS
		fi
		sleep 0.2
	done
	say "QEMU $1: no '$2' after $((SECONDS - start)) s (qemu $(kill -0 "$pid" 2>/dev/null && echo running || echo exited))"
	tail -n 5 "$run/$1.serial" "$run/$1.err" >&2 || true
	return 1
}

# qemu_migration_end NAME SEC: polls QEMU NAME's outgoing migration until
# it ends or SEC seconds pass; sets $r (the last query-migrate reply) and
# $status (its state: completed, failed, cancelled, or still running).
qemu_migration_end() {
	local start=$SECONDS
	while :; do
		r=$($qmp "$run/$1.qmp" '{"execute":"query-migrate"}')
		status=$(echo "$r" | grep -o '"status": "[a-z-]*"' | head -n 1 | cut -d'"' -f4)
		case $status in completed | failed | cancelled) return ;; esac
		[ $((SECONDS - start)) -lt "$2" ] || return
		sleep 0.1
	done
}

json_field() {
	# "key": number in QEMU's query-migrate reply.
	grep -o "\"$1\": *[0-9.]*" | head -n 1 | sed 's/.*: *//'
}

qemu_scenario() {
	local src=q0 dst i r status total down bytes0 bytes cpu result spid dpid sampler
	local blocked requests switched
	qemu_resume "$src"
	spid=$qpid
	qemu_wait "$src" "peer-guest: alive 1 verify" 600 || return 1
	say "qemu $s: $(grep filled "$run/$src.serial")"
	[ "$postcopy" = 0 ] || qemu_pc_probe "$src"
	for i in $(seq "$reps"); do
		dst=q$i
		port=$((port + 1))
		qemu_start "$dst" -incoming defer \
			-fw_cfg "name=opt/kmig/workload,string=$wl $mib $rate"
		dpid=$qpid
		$qmp "$run/$dst.qmp" "$(qemu_caps)" "$(qemu_params)" \
			"{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"tcp:127.0.0.1:$port\"}}" >/dev/null
		$qmp "$run/$src.qmp" "$(qemu_caps)" "$(qemu_params)" >/dev/null
		: >"$run/cpu"
		sample_cpu "$run/cpu" "$spid" "$dpid" &
		sampler=$!
		pids+=("$sampler")	# killed by kmig_cleanup if interrupted
		sleep 0.3
		bytes0=$(lo_bytes)
		$qmp "$run/$src.qmp" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"tcp:127.0.0.1:$port\"}}" >/dev/null
		switched=1
		[ "$postcopy" = 0 ] || qemu_start_postcopy "$src" 300 || switched=0
		qemu_migration_end "$src" $((postcopy ? 300 : 600))
		bytes=$(($(lo_bytes) - bytes0))
		sleep 0.3
		kill "$sampler"
		wait "$sampler" 2>/dev/null || true
		cpu=$(sampled_cpu "$run/cpu")
		total=$(echo "$r" | json_field total-time)
		down=$(echo "$r" | json_field downtime)
		# postcopy: the destination's postcopy-blocktime (ms, all
		# vCPUs blocked at once; this guest has one), when it has it.
		# ram.postcopy-requests: the pages the destination asked for.
		blocked="" requests=""
		if [ "$postcopy" = 1 ]; then
			blocked=$($qmp "$run/$dst.qmp" '{"execute":"query-migrate"}' |
				json_field postcopy-blocktime || true)
			requests=$(echo "$r" | json_field postcopy-requests || true)
		fi
		# The guest must run on the destination with its memory intact:
		# a verify pass printed there (its serial starts empty).
		result=ok
		if [ "$status" != completed ]; then
			result="migration-$status"
		elif [ "$switched" = 0 ]; then
			result=no-postcopy
		elif ! $qmp "$run/$dst.qmp" '{"execute":"query-status"}' | grep -q '"running": true'; then
			result=not-running
		elif ! qemu_wait "$dst" "peer-guest: alive .* verify" 120; then
			result=no-heartbeat
		elif grep -q FAILED "$run/$dst.serial"; then
			result=verify-failed
		fi
		# shellcheck disable=SC2046
		record qemu "$s" "$i" "${total:-null}" "${down:-null}" "$bytes" "$cpu" \
			"$result" \
			$([ "$postcopy" = 0 ] || echo "${blocked:-null} ${requests:-null}")
		[ "$result" = ok ] || echo "$r" >&2
		qemu_quit "$src" "$spid"
		[ "$result" = ok ] || break
		src=$dst spid=$dpid
	done
	qemu_quit "$src" "$spid"
}

# --- kmig ------------------------------------------------------------------
kmig_args() {
	local a=(--channels "$chans" --downtime-limit "$downtime_ms")
	[ "$cap" = 0 ] || a+=(--max-bandwidth "$cap")
	[ "$compress" = none ] || a+=(--compress "$compress")
	[ "$postcopy" = 0 ] || a+=(--postcopy)
	echo "${a[@]}"
}

kmig_scenario() {
	local i total down bytes0 bytes cpu ucpu dcpu result rc vrc spid dpid sampler incoming
	local blocked requests
	for i in $(seq "$reps"); do
		port=$((port + 1))
		rm -f "$run"/k.*
		$vmm --control "$run/k.src.sock" --mem "$mem" --workload "$kwl" \
			--rate "$rate" >"$run/k.src.log" 2>&1 &
		spid=$!
		pids+=("$spid")
		$vmm --control "$run/k.dst.sock" --mem "$mem" --incoming \
			--check-after "$([ "$postcopy" = 0 ] && echo 3 || echo "$pc_check")" \
			>"$run/k.dst.log" 2>&1 &
		dpid=$!
		pids+=("$dpid")
		kmig_wait_for "$run/k.src.log" "kmig-vmm: ready"
		kmig_wait_for "$run/k.dst.log" "kmig-vmm: ready"
		if [ "$wl" = dirty ] || [ "$wl" = idle ]; then
			sleep 3	# dirty: let the rewriting get going
		else
			kmig_wait_for "$run/k.src.log" "workload .* done" 600
		fi
		(TIMEFORMAT='%U %S'; time $kmigctl incoming --vmm "$run/k.dst.sock" \
			--listen "tcp:127.0.0.1:$port" --json --quiet --insecure \
			>"$run/k.in.json" 2>"$run/k.in.err") 2>"$run/k.in.cpu" &
		incoming=$!
		: >"$run/cpu"
		sample_cpu "$run/cpu" "$spid" "$dpid" &
		sampler=$!
		pids+=("$sampler")	# killed by kmig_cleanup if interrupted
		sleep 0.5
		bytes0=$(lo_bytes)
		rc=0
		# shellcheck disable=SC2046
		(TIMEFORMAT='%U %S'; time $kmigctl migrate --vmm "$run/k.src.sock" \
			--to "tcp:127.0.0.1:$port" $(kmig_args) --json --quiet --insecure \
			>"$run/k.out.json" 2>"$run/k.out.err") 2>"$run/k.out.cpu" ||
			rc=$?
		wait "$incoming" || rc=1
		bytes=$(($(lo_bytes) - bytes0))
		kill "$sampler"
		wait "$sampler" 2>/dev/null || true
		vrc=0
		wait "$dpid" || vrc=$?
		wait "$spid" 2>/dev/null || true
		ucpu=$(tail -n 1 "$run/k.out.cpu" | awk '{ print $1 + $2 }')
		dcpu=$(tail -n 1 "$run/k.in.cpu" | awk '{ print $1 + $2 }')
		cpu=$(calc "${ucpu:-0} + ${dcpu:-0} + $(sampled_cpu "$run/cpu")")
		total=$(json_field total_ms <"$run/k.out.json")
		down=$(json_field downtime_ms <"$run/k.out.json")
		result=ok
		[ "$rc" = 0 ] || result="migration-failed($rc)"
		[ "$vrc" = 0 ] || result=check-failed
		blocked=""
		if [ "$postcopy" = 1 ]; then
			# The destination's postcopy.vcpu_blocked_ms (the sum of
			# its fault latencies).
			blocked=$(tr -d '\n' <"$run/k.in.json" | sed 's/.*"postcopy": *{//' |
				json_field vcpu_blocked_ms || true)
			requests=$(tr -d '\n' <"$run/k.in.json" | sed 's/.*"postcopy": *{//' |
				json_field requests || true)
			[ -n "$blocked" ] || [ "$result" != ok ] || result=no-postcopy
		fi
		# shellcheck disable=SC2046
		record kmig "$s" "$i" "${total:-null}" "${down:-null}" "$bytes" "$cpu" \
			"$result" \
			$([ "$postcopy" = 0 ] || echo "${blocked:-null} ${requests:-null}")
		if [ "$result" != ok ]; then
			cat "$run/k.out.err" "$run/k.in.err" "$run/k.dst.log" >&2 || true
			break
		fi
	done
}

# --- report ----------------------------------------------------------------
# median PEER SCENARIO FIELD: the median of FIELD over the ok runs.
median() {
	grep "\"peer\":\"$1\",\"scenario\":\"$2\"," "$json_runs" |
		grep '"result":"ok"' |
		grep -o "\"$3\":[0-9.]*" | cut -d: -f2 | sort -g |
		awk '{ v[NR] = $1 } END { if (!NR) print "null";
			else if (NR % 2) print v[(NR + 1) / 2];
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }' || true
}

ratio() {
	if [ "$1" = null ] || [ "$2" = null ] || [ "$(calc "$2 == 0")" = 1 ]; then
		echo "-"
	else
		calc "$1 / $2" | awk '{ printf "%.2f", $1 }'
	fi
}

fmt() { [ "$1" = null ] && echo "-" || awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; }

report() {
	local s p f t d b c bl rq ok med=() pc=""
	printf '\nkmig vs QEMU %s: %s MiB guests, %s channels, median of %s runs, loopback TCP\n' \
		"$qemu_version" "$mem" "$channels" "$reps"
	printf 'sandbox memcpy: %s MiB/s (copying the RAM once: %.0f ms)\n\n' \
		"$memcpy" "$(calc "$mem * 1000 / $memcpy")"
	printf '%-8s %-5s %9s %9s %9s %7s %5s\n' scenario peer total_ms down_ms MiB_sent cpu_s ok
	for s in $scenarios; do
		for p in qemu kmig; do
			t=$(median "$p" "$s" total_ms)
			d=$(median "$p" "$s" downtime_ms)
			b=$(median "$p" "$s" bytes)
			c=$(median "$p" "$s" cpu_s)
			ok=$(grep "\"peer\":\"$p\",\"scenario\":\"$s\"," "$json_runs" | grep -c '"result":"ok"' || true)
			eval "${p}_t=\$t ${p}_d=\$d ${p}_b=\$b ${p}_c=\$c"
			printf '%-8s %-5s %9s %9s %9s %7s %2s/%s\n' "$s" "$p" \
				"$(fmt "$t" %.0f)" "$(fmt "$d" %.0f)" \
				"$([ "$b" = null ] && echo - || calc "$b / 1048576" | awk '{ printf "%.1f", $1 }')" \
				"$(fmt "$c" %.2f)" "$ok" "$reps"
			bl=$(median "$p" "$s" blocked_ms)
			rq=$(median "$p" "$s" requests)
			eval "${p}_bl=\$bl ${p}_rq=\$rq"
			med+=("{\"peer\":\"$p\",\"scenario\":\"$s\",\"ok_runs\":$ok,\"total_ms\":$t,\"downtime_ms\":$d,\"bytes\":$b,\"cpu_s\":$c,\"blocked_ms\":$bl,\"requests\":$rq}")
		done
		# shellcheck disable=SC2154
		printf '%-8s %-5s %9s %9s %9s %7s\n' "$s" k/q \
			"$(ratio "$kmig_t" "$qemu_t")" "$(ratio "$kmig_d" "$qemu_d")" \
			"$(ratio "$kmig_b" "$qemu_b")" "$(ratio "$kmig_c" "$qemu_c")"
		# shellcheck disable=SC2154
		[ "$s" != postcopy ] ||
			pc=$(printf '%-8s %-10s %9s %9s %9s\n%-8s %-10s %9s %9s %9s' \
				"$s" blocked_ms "$(fmt "$qemu_bl" %.0f)" \
				"$(fmt "$kmig_bl" %.0f)" "$(ratio "$kmig_bl" "$qemu_bl")" \
				"$s" requests "$(fmt "$qemu_rq" %.0f)" \
				"$(fmt "$kmig_rq" %.0f)" "$(ratio "$kmig_rq" "$qemu_rq")")
	done
	if [ -n "$pc" ]; then
		printf '\nIn postcopy: vCPU blocked time (QEMU: the destination'"'"'s postcopy-blocktime%s)\nand pages requested by the destination (QEMU: ram.postcopy-requests)\n' \
			"$(case " $qemu_pc_caps " in *" postcopy-blocktime "*) ;; *) echo ", not available in this QEMU" ;; esac)"
		printf '%-8s %-10s %9s %9s %9s\n' scenario what qemu kmig k/q
		echo "$pc"
	fi
	cat <<EOF

The QEMU guest booted once ($boots tries, see qemu_snapshot); every scenario starts from that state.
k/q = kmig / QEMU (below 1: kmig is ahead). total and downtime are each
peer's own report: QEMU's query-migrate (downtime ends when the source has
sent the last page), kmig's report (downtime ends at the destination's ACK,
after the guest was started there). MiB_sent: bytes through the loopback
device during the migration, both peers measured the same way. cpu_s: CPU
time of the migration, QEMU: both QEMU processes outside their vCPU threads;
kmig: both kmigctl, kmig's kernel workers and both kmig-vmm outside their
vCPU threads.
Scenarios: idle = nothing touched by the workload; zero = $fill_mib MiB
touched, all zero; random = $fill_mib MiB random; text = $fill_mib MiB
text-like, compressed on both sides (QEMU multifd zstd, kmig zstd); dirty =
a ${dirty_ws} MiB working set rewritten at ${dirty_rate} MiB/s, both capped at ${dirty_cap} MiB/s.
The QEMU guest ($guest) runs the same workload code (bench/peer/workload.c);
the Linux guest also holds its kernel (idle shows what that costs).
QEMU: ${qemu_cmd[*]}
      -append "$kernel_args kmig_wl=wait", saved once booted, restored per
      scenario (-incoming defer, migrate-incoming exec:cat FILE)
      QMP: $(qemu_caps)
           migrate-set-parameters multifd-channels $channels, multifd-compression
           zstd for text else none, max-bandwidth $uncapped_bytes ($((uncapped_bytes >> 20)) MiB/s;
           ${dirty_cap} MiB/s in dirty), downtime-limit $downtime_ms
kmig: kmigctl migrate --channels $channels --downtime-limit $downtime_ms
      [--compress zstd in text] [--max-bandwidth $dirty_cap in dirty]
EOF
	case " $scenarios " in
	*" postcopy "*)
		cat <<EOF
postcopy = a ${pc_ws} MiB working set rewritten at ${pc_rate} MiB/s, both capped at
      ${pc_cap} MiB/s before and after the switch, which each peer makes after its
      first pass. QEMU: capabilities postcopy-ram$qemu_pc_caps (no multifd:
      7.2 stalled with multifd and postcopy-preempt)$([ -z "$qemu_pc_missing" ] || echo ", lacks$qemu_pc_missing"),
      max-bandwidth = max-postcopy-bandwidth $((pc_cap << 20)),
      migrate-start-postcopy once ram.dirty-sync-count reaches 2;
      kmig: --channels 1 --postcopy --max-bandwidth $pc_cap (switches right
      after the bulk round). Blocked: QEMU's postcopy-blocktime (time all
      vCPUs were blocked; one vCPU here), kmig's postcopy.vcpu_blocked_ms
      (the sum of its fault latencies). Downtime: QEMU's source stop to the
      postcopy switch; kmig's pause to the destination's ACK.
EOF
		;;
	esac
	{
		printf '{"date":"%s","kernel":"%s","qemu":"%s","mem_mib":%s,"reps":%s,"channels":%s,"downtime_limit_ms":%s,"memcpy_mib_s":%s,\n' \
			"$(date -u +%FT%TZ)" "$kver" "$qemu_version" "$mem" "$reps" \
			"$channels" "$downtime_ms" "$memcpy"
		printf '"qemu_guest":"%s","qemu_boot_tries":%s,"qemu_cmd":"%s","qemu_caps":%s,\n' \
			"$guest" "$boots" "${qemu_cmd[*]}" \
			"$(qemu_caps | sed 's/^{"execute":"migrate-set-capabilities","arguments"://; s/}$//')"
		printf '"medians":[%s],\n' "$(IFS=,; echo "${med[*]}")"
		printf '"runs":[%s]}\n' "$(paste -sd, "$json_runs")"
	} >"$out/bench-peer.json"
	echo
	echo "JSON: bench-peer.json (every run, the medians, the settings)"
}

# --- main ------------------------------------------------------------------
[ -x "$peer/qmp" ] && [ -r "$peer/peer.cpio" ] && [ -r "$peer/peer-bare.bin" ] || {
	say "$peer is not built: run make bench-peer"
	exit 2
}
has_peer() { case " $peers " in *" $1 "*) return 0 ;; esac; return 1; }
if has_peer kmig; then
	insmod ./kmig.ko
fi
ip link set lo up
memcpy=$(build/bench/memcpy_bw)
qemu_version=$(qemu-system-x86_64 --version | head -n 1 | grep -o 'version [0-9.]*' | cut -d' ' -f2)
: >"$json_runs"
boots=0
if has_peer kmig && ! $kmigctl migrate --help 2>&1 | grep -q -- --compress; then
	say "kmigctl has no --compress: kmig's text runs go uncompressed"
	nocompress=1
fi
if has_peer qemu; then
	qemu_snapshot || say "no QEMU guest: only kmig runs"
fi
for s in $scenarios; do
	scenario "$s"
	if [ -e "$run/base.state" ]; then
		say "scenario $s: QEMU"
		qemu_scenario || say "qemu $s failed"
	fi
	if has_peer kmig; then
		say "scenario $s: kmig"
		[ -z "${nocompress:-}" ] || compress=none
		kmig_scenario || say "kmig $s failed"
	fi
done
report
# Every scenario needs a verified run of each peer asked for.
for s in $scenarios; do
	for p in $peers; do
		grep "\"peer\":\"$p\",\"scenario\":\"$s\"," "$json_runs" |
			grep -q '"result":"ok"' || {
			say "$p $s: no verified run"
			exit 1
		}
	done
done
