#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/peer/run.sh: kmig against QEMU's own live migration, side by side
# in one sandbox run (make bench-peer). Runs inside the sandbox, from the
# project root, with the host's root filesystem (so the host's QEMU).
#
# For each scenario it migrates, KMIG_PEER_REPS times each,
#   - a QEMU guest, with each QEMU of KMIG_PEER_QEMUS ("10 7.2": QEMU 10.0
#     from bookworm-backports, unpacked into build/qemu-10 by
#     scripts/install-qemu-peer.sh, the main peer; then the system's 7.2)
#     and in each of QEMU's modes of KMIG_PEER_QEMU_MODES ("multifd
#     plain": multifd channels, or the main channel alone):
#     qemu-system-x86_64 -accel kvm (nested in the sandbox)
#     running bench/peer/workload.c, by default as a bare multiboot kernel
#     (guest_bare.c; KMIG_PEER_GUEST=linux: Debian's kernel with
#     guest_init.c as its whole initramfs, see "Known limit" in
#     Documentation/benchmarks.md), driven over QMP, source to an
#     -incoming destination on 127.0.0.1;
#     every repetition migrates the guest on (the last destination is the
#     next source), so it boots once per scenario and mode;
#   - a kmig-vmm guest of the same RAM size with the same amount of
#     untouched, zero, text-like, random or rewritten memory, by kmigctl
#     over TCP on 127.0.0.1;
# and prints the medians: total time, downtime, bytes on the wire, the
# throughput (bytes / total time) and its fraction of the loopback TCP
# limit measured in the same run with as many connections as the
# scenario's data channels (bench/wire_bw.c), CPU time of the migration,
# and kmig/QEMU ratios against the faster of each QEMU's two modes, with
# the sandbox's memcpy bandwidth for scale. Every migration is verified:
# QEMU's guest must run on the destination and print a verify pass of its
# memory there; kmig's destination must pass its checker. A benchmark:
# nothing here asserts a time.
#
# Results: the table on stdout, $KMIG_OUT/bench-peer.json (every run and
# the medians, with the exact settings of both peers).
#
# Scenario postcopy (in the default list, last; KMIG_PEER_SCENARIOS=
# postcopy runs it alone): a working set rewritten faster than the bandwidth cap, which precopy
# cannot converge; both peers switch to postcopy after their first pass
# (QEMU: postcopy-ram, postcopy-preempt and postcopy-blocktime where its
# query-migrate-capabilities lists them, in the plain mode only: QEMU
# 10.0 refuses multifd with postcopy-ram, "Postcopy is not yet compatible
# with multifd", and 7.2 stalled with both; migrate-start-postcopy once
# ram.dirty-sync-count reaches 2; kmig: --postcopy, right after the bulk
# round), and the report adds each peer's vCPU blocked time (QEMU: the
# destination's postcopy-blocktime; kmig: postcopy.vcpu_blocked_ms).
#
# Environment: KMIG_PEER_MEM (MiB, 512), KMIG_PEER_REPS (3),
# KMIG_PEER_SCENARIOS ("idle zero random text dirty postcopy"),
# KMIG_PEER_PC_RATE and KMIG_PEER_PC_CAP (postcopy's dirty rate, 48, and
# cap, 8 MiB/s: under TCG the guest may dirty slower than asked, and
# QEMU then converges before the switch: a lower cap), KMIG_PEER_PEERS
# ("qemu kmig"), KMIG_PEER_QEMUS ("10 7.2"; each word "10" for
# build/qemu-10, "7.2" or "system" for qemu-system-x86_64 on PATH, or
# the path of a qemu-system-x86_64), KMIG_PEER_QEMU (one path: that QEMU
# alone, overrides KMIG_PEER_QEMUS), KMIG_PEER_QEMU_MODES ("multifd
# plain"), KMIG_PEER_ACCEL (kvm; tcg runs the QEMU half on a host
# without nested KVM: make check does, as a test of this script),
# KMIG_PEER_GUEST (bare, or linux), KMIG_PEER_WIRE_S (seconds per
# wire_bw measurement, 2; three measurements, the median counts),
# KMIG_PEER_KMIG_RAW (1: in text, kmig runs uncompressed too, peer
# kmig-raw, set beside QEMU's plain mode as "k/q V raw"; 0: not).
#
# Exit status: 0 when every scenario has a verified run of each peer
# (each QEMU in each mode it runs), 1 otherwise (the table is printed
# either way), 2 when something it needs is missing.

set -euo pipefail

mem=${KMIG_PEER_MEM:-512}
reps=${KMIG_PEER_REPS:-3}
scenarios=${KMIG_PEER_SCENARIOS:-"idle zero random text dirty postcopy"}
peers=${KMIG_PEER_PEERS:-"qemu kmig"}
kmig_raw=${KMIG_PEER_KMIG_RAW:-1}
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
	printf '  %-20s %-7s #%s  total %6s ms  downtime %5s ms  %8.1f MiB  cpu %5s s  %s%s\n' \
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
qemu_args=(-accel "$accel" -cpu "$cpu" -m "$mem" -smp 1
	-nodefaults -display none -no-reboot -nic none "${guest_files[@]}")

# The QEMUs, in order: KMIG_PEER_QEMU alone, else KMIG_PEER_QEMUS. Each
# word resolves (qemu_resolve WORD) to $qemu_bin, $qemu_env (QEMU 10's
# own module directory: it must not load the system 7.2's modules),
# $qemu_dirs (-L: its own firmware directory, then bookworm's seabios,
# whose bios-256k.bin it lacks) and $qemu_version (10.0.2, 7.2.22).
qemus=${KMIG_PEER_QEMU:-${KMIG_PEER_QEMUS:-"10 7.2"}}
qemu_modes=${KMIG_PEER_QEMU_MODES:-"multifd plain"}
qemu10=build/qemu-10
qemu_resolve() {
	local d
	qemu_env=() qemu_dirs=()
	case $1 in
	10) qemu_bin=$qemu10/usr/bin/qemu-system-x86_64 ;;
	7.2 | system) qemu_bin=$(command -v qemu-system-x86_64 || echo qemu-system-x86_64) ;;
	*) qemu_bin=$1 ;;
	esac
	[ -x "$qemu_bin" ] || {
		say "no QEMU at $qemu_bin$([ "$1" != 10 ] || echo ": run scripts/install-qemu-peer.sh")"
		return 1
	}
	# An unpacked QEMU (usr/bin/qemu-system-x86_64 not under /usr):
	# its own data and modules.
	d=$(cd "$(dirname "$qemu_bin")/../.." && pwd -P)
	if [ "$d" != / ] && [ -d "$d/usr/share/qemu" ]; then
		qemu_dirs=(-L "$d/usr/share/qemu" -L /usr/share/qemu -L /usr/share/seabios)
		qemu_env=(env "QEMU_MODULE_DIR=$d/usr/lib/x86_64-linux-gnu/qemu")
	fi
	qemu_version=$("${qemu_env[@]}" "$qemu_bin" "${qemu_dirs[@]}" --version |
		head -n 1 | grep -o 'version [0-9.]*' | cut -d' ' -f2)
	[ -n "$qemu_version" ] || { say "$qemu_bin --version failed"; return 1; }
	qemu_cmd=("${qemu_env[@]}" "$qemu_bin" "${qemu_dirs[@]}" "${qemu_args[@]}")
}

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
# stream to a file; one per QEMU, $run/base-VERSION.state, as an older
# QEMU cannot load a newer one's stream); every scenario starts from that
# state. A boot that
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
	say "QEMU $qemu_version guest booted (try $try): $(grep waiting "$run/base.serial")"
	# zero-page-detection (QEMU 9.0): multifd's threads find zero pages.
	qemu_zpd=0
	! $qmp "$run/base.qmp" '{"execute":"query-migrate-parameters"}' |
		grep -q '"zero-page-detection"' || qemu_zpd=1
	$qmp "$run/base.qmp" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat >$base\"}}" >/dev/null
	# A wedged guest vCPU (see above) never lets QEMU stop the VM: give
	# the save 120 s, and kill a QEMU that does not quit.
	qemu_migration_end base 120
	qemu_quit base "$qpid"
	case $status in
	completed) say "QEMU $qemu_version guest saved: $(du -m "$base" | cut -f1) MiB" ;;
	*) say "saving the booted QEMU guest failed: $r"; rm -f "$base"; return 1 ;;
	esac
}

# qemu_resume NAME: a QEMU NAME running the saved guest, whose fw_cfg
# gives it this scenario's workload (the guest polls for it).
qemu_resume() {
	qemu_start "$1" -fw_cfg "name=opt/kmig/workload,string=$wl $mib $rate" \
		-incoming defer
	$qmp "$run/$1.qmp" "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"exec:cat $base\"}}" >/dev/null
}

# The migration settings, identical on source and destination (printed
# in the report), as a user would tune them, in two modes ($qmode):
#   multifd: capability multifd, multifd-channels = kmig's data channels,
#     multifd-compression zstd in text, and zero-page-detection=multifd
#     where QEMU has it (9.0 and later: the channels' threads find zero
#     pages; 7.2 finds them in its migration thread);
#   plain: multifd off, QEMU's one migration channel, zero pages found in
#     the migration thread; no compression in text (QEMU 10 has none
#     without multifd; 7.2's old compress threads are deprecated).
# Both: max-bandwidth raised from QEMU's 128 MiB/s default (the cap in
# dirty and postcopy), downtime-limit as kmig's.
# postcopy adds postcopy-ram and those of postcopy-preempt and
# postcopy-blocktime this QEMU has ($qemu_pc_caps, see qemu_pc_probe),
# in the plain mode only (QEMU 10.0 refuses multifd with postcopy-ram,
# "Postcopy is not yet compatible with multifd"; QEMU 7.2 with multifd
# and postcopy-preempt stalled after 8 MiB, see
# Documentation/benchmarks.md): QEMU's main channel and its preempt
# channel, kmig --channels 1 and its preempt channel.
qemu_caps() {
	local c x
	c="{\"capability\":\"multifd\",\"state\":$([ "$qmode" = multifd ] && echo true || echo false)}"
	if [ "$postcopy" = 1 ]; then
		c+=',{"capability":"postcopy-ram","state":true}'
		for x in $qemu_pc_caps; do
			c+=",{\"capability\":\"$x\",\"state\":true}"
		done
	fi
	echo "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":[$c]}}"
}

# postcopy: the cap holds after the switch too (max-postcopy-bandwidth).
qemu_params() {
	local bw=$uncapped_bytes p=""
	[ "$cap" = 0 ] || bw=$((cap << 20))
	[ "$postcopy" = 0 ] || p+=",\"max-postcopy-bandwidth\":$bw"
	if [ "$qmode" = multifd ]; then
		p+=",\"multifd-channels\":$channels,\"multifd-compression\":\"$compress\""
		[ "$qemu_zpd" = 0 ] || p+=',"zero-page-detection":"multifd"'
	fi
	printf '{"execute":"migrate-set-parameters","arguments":{"max-bandwidth":%s,"downtime-limit":%s%s}}\n' \
		"$bw" "$downtime_ms" "$p"
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
		# A setting QEMU refuses fails the scenario (the reply shown).
		$qmp "$run/$dst.qmp" "$(qemu_caps)" "$(qemu_params)" \
			"{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"tcp:127.0.0.1:$port\"}}" \
			>"$run/qmp.out" &&
			$qmp "$run/$src.qmp" "$(qemu_caps)" "$(qemu_params)" >>"$run/qmp.out" || {
			say "QEMU $qemu_version refused the settings: $(grep error "$run/qmp.out")"
			record "$qlabel" "$s" "$i" null null 0 0 qmp-error
			qemu_quit "$dst" "$dpid"
			break
		}
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
		record "$qlabel" "$s" "$i" "${total:-null}" "${down:-null}" "$bytes" "$cpu" \
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

# kmig_scenario [LABEL]: the scenario's runs of kmig, recorded as peer
# LABEL (kmig).
kmig_scenario() {
	local i total down bytes0 bytes cpu ucpu dcpu result rc vrc spid dpid sampler incoming
	local blocked requests label=${1:-kmig}
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
		record "$label" "$s" "$i" "${total:-null}" "${down:-null}" "$bytes" "$cpu" \
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
		grep -o "\"$3\":[0-9][0-9.]*" | cut -d: -f2 | sort -g |
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

# rate BYTES MS: MiB/s on the wire; wire_pct BYTES MS CHANNELS: that as a
# percentage of the loopback limit measured with CHANNELS connections.
rate() {
	if [ "$1" = null ] || [ "$2" = null ] || [ "$(calc "$2 == 0")" = 1 ]; then
		echo null
	else
		calc "$1 / 1048576 * 1000 / $2"
	fi
}

wire_pct() {
	local r w
	r=$(rate "$1" "$2")
	eval "w=\${wire_$3:-null}"
	if [ "$r" = null ] || [ "$w" = null ]; then echo null; else calc "100 * $r / $w"; fi
}

# row SCENARIO PEER LABEL: one line of the table, the medians of PEER's ok
# runs; sets $t $d $b $c $bl $rq (null when none) and appends to med[].
row() {
	local ok mibs pct
	t=$(median "$2" "$1" total_ms)
	d=$(median "$2" "$1" downtime_ms)
	b=$(median "$2" "$1" bytes)
	c=$(median "$2" "$1" cpu_s)
	bl=$(median "$2" "$1" blocked_ms)
	rq=$(median "$2" "$1" requests)
	ok=$(grep "\"peer\":\"$2\",\"scenario\":\"$1\"," "$json_runs" | grep -c '"result":"ok"' || true)
	mibs=$(rate "$b" "$t")
	pct=$(wire_pct "$b" "$t" "$chans")
	printf '%-8s %-20s %9s %8s %9s %7s %5s %7s %2s/%s\n' "$1" "$3" \
		"$(fmt "$t" %.0f)" "$(fmt "$d" %.0f)" \
		"$([ "$b" = null ] && echo - || calc "$b / 1048576" | awk '{ printf "%.1f", $1 }')" \
		"$(fmt "$mibs" %.1f)" "$(fmt "$pct" %.0f%%)" "$(fmt "$c" %.2f)" "$ok" "$reps"
	med+=("{\"peer\":\"$2\",\"scenario\":\"$1\",\"ok_runs\":$ok,\"total_ms\":$t,\"downtime_ms\":$d,\"bytes\":$b,\"mib_s\":$mibs,\"wire_pct\":$pct,\"cpu_s\":$c,\"blocked_ms\":$bl,\"requests\":$rq}")
}

# ratio_row SCENARIO LABEL QEMU_PEER TOTAL DOWN BYTES CPU: one k/q line,
# kmig's medians given against QEMU_PEER's, if QEMU_PEER has any.
ratio_row() {
	local t
	t=$(median "$3" "$1" total_ms)
	[ "$t" = null ] && return 0
	printf '%-8s %-20s %9s %8s %9s %7s %5s %7s\n' "$1" "$2" \
		"$(ratio "$4" "$t")" \
		"$(ratio "$5" "$(median "$3" "$1" downtime_ms)")" \
		"$(ratio "$6" "$(median "$3" "$1" bytes)")" "" "" \
		"$(ratio "$7" "$(median "$3" "$1" cpu_s)")"
}

# qemus_list WHAT: per QEMU, "; " between them, its version and WHAT:
# zpd (whether it has zero-page-detection), pc (its postcopy extras).
qemus_list() {
	local qi
	for qi in "${!qwords[@]}"; do
		case $1 in
		zpd) printf '%s: %s; ' "${qver[$qi]}" "$([ "${qzpd[$qi]}" = 1 ] && echo yes || echo no)" ;;
		pc) printf '%s:%s; ' "${qver[$qi]}" "${qpc[$qi]:- none}" ;;
		*) printf '%s; ' "${qver[$qi]}" ;;
		esac
	done | sed 's/; $//'
}

report() {
	local s qi m lbl bt bm kt kd kb kc kbl krq med=() best=() pc="" wires="" n v
	local b_ d_ c_ bl_ rq_ krt krd krb krc
	printf '\nkmig vs QEMU %s: %s MiB guests, %s channels, median of %s runs, loopback TCP\n' \
		"$(qemus_list version | sed 's/; / and /g')" "$mem" "$channels" "$reps"
	printf 'sandbox memcpy: %s MiB/s (copying the RAM once: %.0f ms)\n' \
		"$memcpy" "$(calc "$mem * 1000 / $memcpy")"
	for n in $wire_conns; do
		eval "v=\$wire_$n"
		printf 'loopback TCP (bench/wire_bw, %s connection%s, median of 3): %s MiB/s\n' \
			"$n" "$([ "$n" = 1 ] || echo s)" "$v"
		wires+="${wires:+,}\"$n\":$v"
	done
	printf '\n%-8s %-20s %9s %8s %9s %7s %5s %7s %5s\n' scenario peer total_ms down_ms \
		MiB_sent MiB/s wire cpu_s ok
	for s in $scenarios; do
		scenario "$s"
		kt=null kd=null kb=null kc=null kbl=null krq=null
		krt=null krd=null krb=null krc=null
		if has_peer kmig; then
			row "$s" kmig kmig
			kt=$t kd=$d kb=$b kc=$c kbl=$bl krq=$rq
			if [ "$compress" != none ] && [ "$kmig_raw" = 1 ]; then
				row "$s" kmig-raw "kmig uncompressed"
				krt=$t krd=$d krb=$b krc=$c
			fi
		fi
		for qi in "${!qwords[@]}"; do
			bt=null bm=""
			for m in $qemu_modes; do
				[ "$postcopy" = 0 ] || [ "$m" = plain ] || continue
				lbl=qemu-${qver[$qi]}-$m
				row "$s" "$lbl" "qemu ${qver[$qi]} $m"
				if [ "$t" != null ] && { [ "$bt" = null ] || [ "$(calc "$t < $bt")" = 1 ]; }; then
					bt=$t bm=$m b_=$b d_=$d c_=$c bl_=$bl rq_=$rq
				fi
			done
			if [ -z "$bm" ]; then
				printf '%-8s %-20s %9s\n' "$s" "k/q ${qver[$qi]}" "-"
				continue
			fi
			printf '%-8s %-20s %9s %8s %9s %7s %5s %7s\n' "$s" \
				"k/q ${qver[$qi]} $bm" \
				"$(ratio "$kt" "$bt")" "$(ratio "$kd" "$d_")" \
				"$(ratio "$kb" "$b_")" "" "" "$(ratio "$kc" "$c_")"
			best+=("{\"qemu\":\"${qver[$qi]}\",\"scenario\":\"$s\",\"mode\":\"$bm\"}")
			# text: kmig uncompressed against QEMU's plain mode.
			[ "$krt" = null ] ||
				ratio_row "$s" "k/q ${qver[$qi]} raw" \
					"qemu-${qver[$qi]}-plain" "$krt" "$krd" "$krb" "$krc"
			# text: when the uncompressed plain mode was the faster,
			# also kmig against QEMU's compressed (multifd zstd) one.
			[ "$compress" = none ] || [ "$bm" = multifd ] ||
				ratio_row "$s" "k/q ${qver[$qi]} $compress" \
					"qemu-${qver[$qi]}-multifd" "$kt" "$kd" "$kb" "$kc"
			[ "$s" != postcopy ] ||
				pc+=$(printf '%-8s %-10s %-8s %9s %9s %9s\n%-8s %-10s %-8s %9s %9s %9s' \
					"$s" blocked_ms "${qver[$qi]}" "$(fmt "$bl_" %.0f)" \
					"$(fmt "$kbl" %.0f)" "$(ratio "$kbl" "$bl_")" \
					"$s" requests "${qver[$qi]}" "$(fmt "$rq_" %.0f)" \
					"$(fmt "$krq" %.0f)" "$(ratio "$krq" "$rq_")")$'\n'
		done
	done
	if [ -n "$pc" ]; then
		printf '\nIn postcopy: vCPU blocked time (QEMU: the destination'"'"'s postcopy-blocktime)\nand pages requested by the destination (QEMU: ram.postcopy-requests)\n'
		printf '%-8s %-10s %-8s %9s %9s %9s\n' scenario what version qemu kmig k/q
		printf '%s' "$pc"
	fi
	cat <<EOF

k/q V MODE = kmig / QEMU V in MODE, the faster of QEMU's two modes there
by median total time (below 1: kmig is ahead); in text, where that is the
uncompressed plain mode, k/q V zstd is kmig against the multifd zstd mode,
and k/q V raw is kmig uncompressed (kmig-raw) against that plain mode. total and downtime are each
peer's own report: QEMU's query-migrate (downtime ends when the source has
sent the last page), kmig's report (downtime ends at the destination's ACK,
after the guest was started there). MiB_sent: bytes through the loopback
device during the migration, both peers measured the same way. MiB/s:
MiB_sent / total; wire: that as a share of the loopback TCP limit with as
many connections as the scenario's data channels ($channels; 1 in
postcopy). cpu_s: CPU time of the migration, QEMU: both QEMU processes
outside their vCPU threads; kmig: both kmigctl, kmig's kernel workers and
both kmig-vmm outside their vCPU threads.
Scenarios: idle = nothing touched by the workload; zero = $fill_mib MiB
touched, all zero; random = $fill_mib MiB random; text = $fill_mib MiB
text-like (QEMU: multifd zstd in the multifd mode, uncompressed in plain;
kmig zstd); dirty = a ${dirty_ws} MiB working set rewritten at ${dirty_rate} MiB/s,
both capped at ${dirty_cap} MiB/s.
The QEMU guest ($guest) runs the same workload code (bench/peer/workload.c);
the Linux guest also holds its kernel (idle shows what that costs).
QEMU: saved once booted (-append "$kernel_args kmig_wl=wait"), restored
      per scenario and mode (-incoming defer, migrate-incoming exec:cat FILE)
EOF
	for qi in "${!qwords[@]}"; do
		echo "  ${qver[$qi]}: ${qcmd[$qi]}"
	done
	cat <<EOF
      multifd mode: capability multifd, migrate-set-parameters
        multifd-channels $channels, multifd-compression zstd in text else none,
        zero-page-detection multifd where QEMU has it ($(qemus_list zpd))
      plain mode: multifd off (one migration channel), no compression
      both: max-bandwidth $uncapped_bytes ($((uncapped_bytes >> 20)) MiB/s; ${dirty_cap} MiB/s in dirty),
        downtime-limit $downtime_ms
kmig: kmigctl migrate --channels $channels --downtime-limit $downtime_ms
      [--compress zstd in text] [--max-bandwidth $dirty_cap in dirty]
EOF
	case " $scenarios " in
	*" postcopy "*)
		cat <<EOF
postcopy = a ${pc_ws} MiB working set rewritten at ${pc_rate} MiB/s, both capped at
      ${pc_cap} MiB/s before and after the switch, which each peer makes after its
      first pass. QEMU, plain mode only (10.0 refuses multifd with postcopy-ram,
      7.2 stalled with multifd and postcopy-preempt): capabilities postcopy-ram
      and those it has of postcopy-preempt postcopy-blocktime
      ($(qemus_list pc)),
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
		printf '{"date":"%s","kernel":"%s","mem_mib":%s,"reps":%s,"channels":%s,"downtime_limit_ms":%s,"memcpy_mib_s":%s,"wire_mib_s":{%s},\n' \
			"$(date -u +%FT%TZ)" "$kver" "$mem" "$reps" \
			"$channels" "$downtime_ms" "$memcpy" "$wires"
		printf '"qemu_guest":"%s","qemu_modes":"%s","qemus":[%s],\n' "$guest" "$qemu_modes" \
			"$(for qi in "${!qwords[@]}"; do
				printf '%s{"version":"%s","cmd":"%s","boot_tries":%s,"zero_page_detection":%s,"postcopy_caps":"%s"}' \
					"$([ "$qi" = 0 ] || echo ,)" "${qver[$qi]}" "${qcmd[$qi]}" \
					"${qboots[$qi]}" "$([ "${qzpd[$qi]}" = 1 ] && echo true || echo false)" \
					"${qpc[$qi]# }"
			done)"
		printf '"medians":[%s],\n' "$(IFS=,; echo "${med[*]}")"
		printf '"faster_mode":[%s],\n' "$(IFS=,; echo "${best[*]}")"
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
[ -x build/bench/wire_bw ] && [ -x build/bench/memcpy_bw ] || {
	say "build/bench/wire_bw or memcpy_bw is not built: run make bench-tools"
	exit 2
}
has_peer() { case " $peers " in *" $1 "*) return 0 ;; esac; return 1; }
# The QEMUs, resolved up front: a missing one stops the run before it
# starts. qwords, qver, qcmd, qbase, qzpd, qboots, qpc: per QEMU.
qwords=() qver=() qcmd=() qbase=() qzpd=() qboots=() qpc=()
if has_peer qemu; then
	for w in $qemus; do
		qemu_resolve "$w" || exit 2
		qi=${#qwords[@]}
		qwords+=("$w") qver+=("$qemu_version") qcmd+=("${qemu_cmd[*]}")
		qbase+=("$run/base-$qi.state") qzpd+=(0) qboots+=(0) qpc+=("")
	done
fi
if has_peer kmig; then
	insmod ./kmig.ko
fi
ip link set lo up
memcpy=$(build/bench/memcpy_bw)
# The wire: loopback TCP with as many connections as each scenario's data
# channels, three times wire_s seconds, the median.
wire_s=${KMIG_PEER_WIRE_S:-2}
wire_conns=$(for s in $scenarios; do scenario "$s"; echo "$chans"; done | sort -un)
for n in $wire_conns; do
	v=$(for i in 1 2 3; do build/bench/wire_bw "$n" "$wire_s"; done |
		grep -o '"mib_s":[0-9.]*' | cut -d: -f2 | sort -g | sed -n 2p)
	eval "wire_$n=\${v:-null}"
	say "loopback TCP, $n connection(s): ${v:-?} MiB/s"
done
: >"$json_runs"
: >"$run/expected"
if has_peer kmig && ! $kmigctl migrate --help 2>&1 | grep -q -- --compress; then
	say "kmigctl has no --compress: kmig's text runs go uncompressed"
	nocompress=1
fi
# qemu_use QI: QEMU QI's command, version, saved guest and probes.
qemu_use() {
	qemu_resolve "${qwords[$1]}"
	base=${qbase[$1]} qemu_zpd=${qzpd[$1]} boots=${qboots[$1]}
}
for qi in "${!qwords[@]}"; do
	qemu_use "$qi"
	qemu_snapshot || say "no QEMU $qemu_version guest: its runs are missing"
	qzpd[qi]=$qemu_zpd qboots[qi]=$boots
done
for s in $scenarios; do
	scenario "$s"
	for qi in "${!qwords[@]}"; do
		qemu_use "$qi"
		for qmode in $qemu_modes; do
			if [ "$postcopy" = 1 ] && [ "$qmode" != plain ]; then
				say "scenario $s: QEMU $qemu_version $qmode skipped (postcopy runs plain)"
				continue
			fi
			qlabel=qemu-$qemu_version-$qmode
			echo "$qlabel $s" >>"$run/expected"
			[ -e "$base" ] || continue
			say "scenario $s: QEMU $qemu_version $qmode"
			qemu_pc_caps=""
			qemu_scenario || say "qemu $qemu_version $qmode $s failed"
			[ -z "$qemu_pc_caps" ] || qpc[qi]=$qemu_pc_caps
		done
	done
	if has_peer kmig; then
		echo "kmig $s" >>"$run/expected"
		say "scenario $s: kmig"
		[ -z "${nocompress:-}" ] || compress=none
		kmig_scenario || say "kmig $s failed"
		# text: kmig uncompressed too, as QEMU's plain mode runs it.
		if [ "$compress" != none ] && [ "$kmig_raw" = 1 ]; then
			echo "kmig-raw $s" >>"$run/expected"
			say "scenario $s: kmig, uncompressed"
			compress=none
			kmig_scenario kmig-raw || say "kmig-raw $s failed"
			scenario "$s"
		fi
	fi
done
report
# Every scenario needs a verified run of each peer asked for (each QEMU
# in each of its modes).
fail=0
while read -r p s; do
	grep "\"peer\":\"$p\",\"scenario\":\"$s\"," "$json_runs" |
		grep -q '"result":"ok"' || {
		say "$p $s: no verified run"
		fail=1
	}
done <"$run/expected"
exit $fail
