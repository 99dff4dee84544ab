#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# secure.sh: what kmigctl's security modes cost, run inside the sandbox
# (make bench-secure). Migrates guests of the same RAM size over TCP on
# loopback in each mode, and prints per workload and mode: total time,
# throughput (page data moved per second), both as a ratio to the insecure
# run of the same workload and compression, CPU time (kmigctl on each side
# and kmig's kernel workers) and its ratio, and the destination checker's
# verdict. Before the migrations it measures the primitives on one core
# (bench/crypto_bw.c: memcpy, kmigctl's crc32c both ways, UMAC-128,
# HMAC-SHA256, AES-128-GCM, and the kernel's crc32c and gcm(aes) through
# AF_ALG) and afterwards puts them against the runs: the CRC-32C every RAM
# frame carries, as a share of each run's CPU, and likewise the primitive
# that protects the frames (UMAC-128 or AES-128-GCM). A benchmark, not a test: nothing here
# asserts a time, but a failed migration or check is printed loudly and
# makes the exit status 1. Results: a table on stdout, JSON lines in
# $KMIG_OUT/bench-secure.json (a "primitives" line, one "run" line per
# migration, one "row" line of medians per workload and mode).
#
# The modes (both kmigctls get the same options; credentials from
# scripts/mkcreds.sh):
#   insecure          --insecure: plain TCP, the baseline
#   auth-key          --auth-key: HMAC challenge, UMAC-128 per frame
#   tls-psk           --tls-psk, records in the kernel (kTLS)
#   tls-psk/gnutls    --tls-psk --no-ktls: GnuTLS's own records
#   tls-x509          --tls-creds, kTLS
#   tls-x509/gnutls   --tls-creds --no-ktls
# The CRC-32C is always on (kmigctl has no switch for it): every mode pays
# it, the insecure row included. With kTLS the kernel encrypts in sendmsg
# and decrypts in recvmsg of the kmigctl threads, so that crypto is in the
# kmigctls' system time, not in the kernel workers'.
#
# Environment: KMIG_BENCH_MEM (MiB, 128), KMIG_BENCH_CHANNELS (2),
# KMIG_BENCH_REPEAT (3: medians of that many runs per row, the runs going
# round all rows once per repetition so that drift spreads over every
# mode; one repetition of the 15 default rows at 128 MiB takes about 5
# minutes in the sandbox),
# KMIG_BENCH_ROWS (WORKLOAD[+zstd]/MODE ..., default every mode for random
# and text, and insecure, auth-key, tls-x509 for text+zstd).

set -euo pipefail

mem=${KMIG_BENCH_MEM:-128}
channels=${KMIG_BENCH_CHANNELS:-2}
repeat=${KMIG_BENCH_REPEAT:-3}
modes="insecure auth-key tls-psk tls-psk/gnutls tls-x509 tls-x509/gnutls"
default_rows=
for w in random text; do
	for m in $modes; do
		default_rows+=" $w/$m"
	done
done
default_rows+=" text+zstd/insecure text+zstd/auth-key text+zstd/tls-x509"
rows=${KMIG_BENCH_ROWS:-$default_rows}
vmm=build/vmm/kmig-vmm
kmigctl=build/user/kmigctl
crypto_bw=build/bench/crypto_bw
out=${KMIG_OUT:-/tmp}
run=$(mktemp -d /tmp/kmig-bench-secure.XXXXXX)
creds=$run/creds
json=$out/bench-secure.json
port=4600
pids=()
failures=0

# shellcheck source=scripts/lib/procs.sh
. scripts/lib/procs.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh
who=bench-secure
trap kmig_cleanup EXIT


json_str() {
	{ grep -o "\"$1\": *\"[^\"]*\"" "$2" || true; } | head -n 1 |
		sed 's/.*: *"//; s/"$//'
}

# sec_opts MODE: kmigctl's options for a mode (the same on both sides).
sec_opts() {
	case $1 in
	insecure) echo "--insecure" ;;
	auth-key) echo "--auth-key $creds/auth.key" ;;
	tls-psk) echo "--tls-psk $creds/psk.key" ;;
	tls-psk/gnutls) echo "--tls-psk $creds/psk.key --no-ktls" ;;
	tls-x509) echo "--tls-creds $creds/x509" ;;
	tls-x509/gnutls) echo "--tls-creds $creds/x509 --no-ktls" ;;
	*) echo "$who: unknown mode '$1' (one of: $modes)" >&2; return 1 ;;
	esac
}

# loud MESSAGE: a failure nobody can miss, on stdout (the table) and stderr.
loud() {
	printf '\n!!!!!!!! %s !!!!!!!!\n\n' "$*" | tee /dev/stderr
}

# median FILE: the median of the numbers in FILE, one a line.
median() {
	sort -g "$1" | awk '{ v[NR] = $1 }
		END { if (!NR) print "null"; else if (NR % 2) print v[(NR + 1) / 2];
		      else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# stop_vms: the run's source (paused, migrated away) and destination go.
stop_vms() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	pids=()
}

# migrate_one ROW REP: one migration; its numbers go to $run/res/ROW.*.
migrate_one() {
	local row=$1 rep=$2 w=${1%%/*} mode=${1#*/}
	local guest=${w%%+*} compress=none key opts rc vrc verdict src dst
	local total bytes zbefore zafter ucpu dcpu kcpu cpu sec result t0 wall
	local setup
	[ "$guest" = "$w" ] || compress=${w#*+}
	key=$(echo "$row" | tr '/+:' '___')
	opts=$(sec_opts "$mode")
	port=$((port + 1))
	t0=$(date +%s)
	rm -f "$run"/*.log "$run"/*.json "$run"/*.err "$run"/*.cpu "$run/kthreads"

	$vmm --control "$run/src.sock" --mem "$mem" --workload "$guest" \
		--rate 64 >"$run/src.log" 2>&1 &
	src=$!
	$vmm --control "$run/dst.sock" --mem "$mem" --incoming \
		--check-after 1 >"$run/dst.log" 2>&1 &
	dst=$!
	pids=("$src" "$dst")
	# Every run starts from the same guest memory: the fill done.
	if ! kmig_wait_for "$run/src.log" "kmig-vmm: ready" ||
		! kmig_wait_for "$run/dst.log" "kmig-vmm: ready" ||
		! kmig_wait_for "$run/src.log" "workload .* done" 120; then
		failures=$((failures + 1))
		loud "$row run $rep: the VMs did not start"
		stop_vms
		return 0
	fi

	# shellcheck disable=SC2086 # $opts is a list of options
	(TIMEFORMAT='%U %S'; time $kmigctl incoming --vmm "$run/dst.sock" \
		--listen "tcp:127.0.0.1:$port" --json --quiet $opts \
		>"$run/in.json" 2>"$run/in.err") 2>"$run/in.cpu" &
	incoming=$!
	sleep 0.5
	sample_kthreads "$run/kthreads" &
	sampler=$!
	rc=0
	# shellcheck disable=SC2086
	(TIMEFORMAT='%U %S'; time $kmigctl migrate --vmm "$run/src.sock" \
		--to "tcp:127.0.0.1:$port" --channels "$channels" --json \
		--compress "$compress" --quiet $opts \
		>"$run/out.json" 2>"$run/out.err") 2>"$run/out.cpu" || rc=$?
	wait "$incoming" || [ "$rc" != 0 ] || rc=1
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	vrc=0
	wait "$dst" || vrc=$?
	stop_vms

	total=$(json_num total_ms "$run/out.json")
	setup=$(json_num setup_ms "$run/out.json")
	bytes=$(json_num bytes_sent "$run/out.json")
	zbefore=$(json_num bytes_before "$run/out.json")
	[ "${zbefore:-0}" != 0 ] || zbefore=$bytes
	zafter=$(json_num bytes_after "$run/out.json")
	sec=$(json_str security "$run/out.json")
	ucpu=$(tail -n 1 "$run/out.cpu" | awk '{ print $1 + $2 }')
	dcpu=$(tail -n 1 "$run/in.cpu" | awk '{ print $1 + $2 }')
	kcpu=$(awk -v hz="$hz" '{ if ($2 > m[$1]) m[$1] = $2 }
		END { for (p in m) s += m[p]; printf "%.3f", s / hz }' \
		"$run/kthreads" 2>/dev/null || echo 0)
	cpu=$(calc "${ucpu:-0} + ${dcpu:-0} + ${kcpu:-0}")
	verdict=$(grep -o 'check [A-Z]*: .*' "$run/dst.log" | head -n 1 || true)

	result=ok
	if [ "$rc" != 0 ]; then
		result="fail($rc)"
	elif [ "$vrc" != 0 ] || [ "${verdict#check PASSED}" = "$verdict" ]; then
		result="check-fail"
	else
		case $mode in
		tls-*/gnutls) [[ $sec = *"(GnuTLS records)"* ]] || result=wrong-mode ;;
		tls-*) [[ $sec = *"(kTLS)"* ]] || result=wrong-mode ;;
		esac
	fi
	if [ "$result" != ok ]; then
		failures=$((failures + 1))
		loud "$row run $rep: $result${verdict:+ ($verdict)}${sec:+ [$sec]}"
		cat "$run/out.err" "$run/in.err" "$run/dst.log" >&2 || true
	fi

	wall=$(($(date +%s) - t0))
	printf '  run %s/%s %-26s %6.0f ms %6.2f cpu_s %-10s (%s s with the VMs)\n' \
		"$rep" "$repeat" "$row" "${total:-0}" "$cpu" "$result" "$wall"
	printf '{"kind":"run","row":"%s","workload":"%s","compress":"%s","mode":"%s","rep":%s,"mem_mib":%s,"channels":%s,"security":"%s","total_ms":%s,"setup_ms":%s,"bytes_sent":%s,"page_bytes_before":%s,"page_bytes_after":%s,"cpu_s":%s,"kmigctl_src_cpu_s":%s,"kmigctl_dst_cpu_s":%s,"kworker_cpu_s":%s,"check":"%s","result":"%s","wall_s":%s}\n' \
		"$row" "$guest" "$compress" "$mode" "$rep" "$mem" "$channels" \
		"$sec" "${total:-null}" "${setup:-null}" "${bytes:-null}" \
		"${zbefore:-null}" \
		"${zafter:-null}" "$cpu" "${ucpu:-null}" "${dcpu:-null}" \
		"$kcpu" "${verdict//\"/\'}" "$result" "$wall" >>"$json"
	# Per row, one value a line per repetition (medians at the end).
	[ "$result" = ok ] || return 0
	echo "${total:-0}" >>"$run/res/$key.total"
	echo "${setup:-0}" >>"$run/res/$key.setup"
	echo "${bytes:-0}" >>"$run/res/$key.bytes"
	echo "${zbefore:-0}" >>"$run/res/$key.before"
	echo "${ucpu:-0}" >>"$run/res/$key.ucpu"
	echo "${dcpu:-0}" >>"$run/res/$key.dcpu"
	echo "$kcpu" >>"$run/res/$key.kcpu"
	echo "$cpu" >>"$run/res/$key.cpu"
	echo "$sec" >"$run/res/$key.sec"
}

for row in $rows; do
	sec_opts "${row#*/}" >/dev/null || exit 2
done

# The module and what it needs; kTLS's ULP and AEADs (the sandbox has no
# modprobe path for the kernel to load them itself).
for dep in $(modinfo -F depends ./kmig.ko | tr ',' ' '); do
	modprobe "$dep"
done
insmod ./kmig.ko
modprobe -q -a tls gcm ctr ghash-generic ghash-clmulni-intel aesni-intel \
	2>/dev/null || true
# AF_ALG, for crypto_bw's figures of the kernel's own crc32c and gcm(aes).
modprobe -q -a algif_hash algif_aead crc32c-intel crc32c_generic \
	2>/dev/null || true
ip link set lo up
scripts/mkcreds.sh "$creds"
hz=$(getconf CLK_TCK)
mkdir -p "$run/res"
: >"$json"

printf '\nkmig security benchmark: %s MiB guests, %s data channels, loopback TCP, %s run(s) per row\n' \
	"$mem" "$channels" "$repeat"
# driver NAME: the kernel's preferred implementation of NAME.
driver() {
	awk -v a="$1" '/^name/ { n = $3 } /^driver/ { d = $3 }
		/^priority/ && n == a && $3 > p { p = $3; best = d }
		END { print best ? best : "none" }' /proc/crypto
}
if grep -qs '^tls ' /proc/modules; then ktls="tls.ko loaded"; else ktls="tls.ko NOT loaded"; fi
printf 'kTLS: %s; kernel gcm(aes): %s, crc32c: %s\n' "$ktls" \
	"$(driver 'gcm(aes)')" "$(driver crc32c)"

# The primitives, on one core, before anything else runs.
if ! timeout 120 $crypto_bw >"$run/prims"; then
	failures=$((failures + 1))
	loud "crypto_bw failed: the primitives' figures are missing"
fi
prim() { awk -v k="$1" '$1 == k { print $2 }' "$run/prims"; }
crc_impl=$(awk '$1 == "crc32c" { print $3 }' "$run/prims")
printf '\nprimitives on one core (MiB/s; us per 4 KiB page):\n'
printf '  %-38s %8s %9s\n' primitive MiB/s us/page
while read -r name speed note; do
	case $name in
	memcpy) label=memcpy ;;
	crc32c) label="crc32c as kmigctl picks it ($note)" ;;
	crc32c_table) label="crc32c slicing-by-8 tables" ;;
	crc32c_sse42) label="crc32c SSE4.2 instruction" ;;
	kernel_crc32c) label="kernel crc32c ($(driver crc32c), AF_ALG)" ;;
	kernel_aes128gcm) label="kernel gcm(aes) (AF_ALG, 16 KiB)" ;;
	umac128) label="UMAC-128 (gnutls_hmac, --auth-key)" ;;
	hmac_sha256) label="HMAC-SHA256 (gnutls_hmac)" ;;
	aes128gcm) label="AES-128-GCM (gnutls_aead, 16 KiB)" ;;
	*) label=$name ;;
	esac
	printf '  %-38s %8s %9.2f\n' "$label" "$speed" \
		"$(calc "4096 * 1000000 / ($speed * 1048576)")"
done <"$run/prims"
printf '{"kind":"primitives","crc32c_impl":"%s"%s}\n' "$crc_impl" \
	"$(awk '{ printf ",\"%s_mib_s\":%s", $1, $2 }' "$run/prims")" >>"$json"

printf '\n'
start=$(date +%s)
for rep in $(seq "$repeat"); do
	for row in $rows; do
		migrate_one "$row" "$rep"
	done
done
elapsed=$(($(date +%s) - start))

fmt1() { if [ "$1" = null ]; then echo -; else printf '%.1f' "$1"; fi; }
fmt2() { if [ "$1" = null ]; then echo -; else printf '%.2f' "$1"; fi; }

# The table: medians per row, ratios to the insecure row of the same
# workload and compression.
crc=$(prim crc32c)
umac=$(prim umac128)
aes=$(prim aes128gcm)
kaes=$(prim kernel_aes128gcm)
kaes=${kaes:-$aes}
printf '\n%-26s %9s %6s %8s %7s %7s %7s %7s %7s %7s %6s %6s %s\n' \
	"workload/mode" total_ms setup MiB/s xtput cpu_s xcpu src_s dst_s \
	kwork_s crc% prot% "check (security)"
for row in $rows; do
	key=$(echo "$row" | tr '/+:' '___')
	base=$(echo "${row%%/*}/insecure" | tr '/+:' '___')
	f=$run/res/$key
	if [ ! -s "$f.total" ]; then
		printf '%-26s %s\n' "$row" "!!! no successful run !!!"
		printf '{"kind":"row","row":"%s","runs_ok":0,"runs":%s}\n' \
			"$row" "$repeat" >>"$json"
		continue
	fi
	n=$(wc -l <"$f.total")
	total=$(median "$f.total")
	before=$(median "$f.before")
	bytes=$(median "$f.bytes")
	cpu=$(median "$f.cpu")
	# MiB/s of page data moved (before compression).
	tput=$(calc "$before / 1048576 / ($total / 1000)")
	xtput=null
	xcpu=null
	if [ -s "$run/res/$base.total" ]; then
		btput=$(calc "$(median "$run/res/$base.before") / 1048576 / ($(median "$run/res/$base.total") / 1000)")
		xtput=$(calc "$tput / $btput")
		xcpu=$(calc "$cpu / $(median "$run/res/$base.cpu")")
	fi
	# What the CRC costs, computed on both sides over what was sent, and
	# the UMAC likewise in the auth-key rows, as shares of the CPU.
	crcpct=null
	[ -z "$crc" ] || crcpct=$(calc "100 * 2 * $bytes / 1048576 / $crc / $cpu")
	case ${row#*/} in
	auth-key) pspeed=$umac ;;
	tls-*/gnutls) pspeed=$aes ;;
	tls-*) pspeed=$kaes ;;
	*) pspeed= ;;
	esac
	macpct=null
	[ -z "$pspeed" ] || [ -z "$crc" ] ||
		macpct=$(calc "100 * 2 * $bytes / 1048576 / $pspeed / $cpu")
	check="ok $n/$repeat"
	[ "$n" = "$repeat" ] || check="!!! ok $n/$repeat !!!"
	printf '%-26s %9.0f %6.0f %8.1f %7s %7.2f %7s %7.2f %7.2f %7.2f %6s %6s %s (%s)\n' \
		"$row" "$total" "$(median "$f.setup")" "$tput" "$(fmt2 "$xtput")" "$cpu" "$(fmt2 "$xcpu")" \
		"$(median "$f.ucpu")" "$(median "$f.dcpu")" "$(median "$f.kcpu")" \
		"$(fmt1 "$crcpct")" "$(fmt1 "$macpct")" \
		"$check" "$(cat "$f.sec")"
	printf '{"kind":"row","row":"%s","runs_ok":%s,"runs":%s,"security":"%s","total_ms":%s,"setup_ms":%s,"bytes_sent":%s,"page_bytes_before":%s,"throughput_mib_s":%s,"throughput_ratio":%s,"cpu_s":%s,"cpu_ratio":%s,"kmigctl_src_cpu_s":%s,"kmigctl_dst_cpu_s":%s,"kworker_cpu_s":%s,"crc32c_cpu_share":%s,"protection_cpu_share":%s}\n' \
		"$row" "$n" "$repeat" "$(cat "$f.sec")" "$total" \
		"$(median "$f.setup")" "$bytes" \
		"$before" "$tput" "$xtput" "$cpu" "$xcpu" "$(median "$f.ucpu")" \
		"$(median "$f.dcpu")" "$(median "$f.kcpu")" \
		"$(if [ "$crcpct" = null ]; then echo null; else calc "$crcpct / 100"; fi)" \
		"$(if [ "$macpct" = null ]; then echo null; else calc "$macpct / 100"; fi)" \
		>>"$json"
done
cat <<EOF

setup: ms of total_ms before the first round (connections, handshakes);
MiB/s: page data moved (before compression) per second of total time;
xtput, xcpu: against the insecure row of the same workload and compression;
cpu_s = src_s + dst_s + kwork_s (kmigctl user+sys on each side, kmig's
kernel workers). kTLS encrypts and decrypts in the kmigctl threads' sendmsg
and recvmsg: it is in src_s/dst_s (system time), not in kwork_s.
crc%: 2 x MiB sent / crc32c speed ($crc_impl, $crc MiB/s) over cpu_s, the
checksum's estimated share (source and destination); prot%: the same for
what protects the frames: UMAC-128 (auth-key), GnuTLS's AES-128-GCM
(/gnutls rows), the kernel's gcm(aes) (kTLS rows; GnuTLS's figure where
AF_ALG gave none). The kernel's crc32c-intel uses the same SSE4.2
instruction the emulated sandbox runs slowly; kmigctl computes the CRC
itself, off the mmap ring: in kmig's workers it would need a module change,
"kernel crc32c" above is what it would cost there (plus a syscall a page).
$((repeat * $(echo "$rows" | wc -w))) migrations in ${elapsed}s; ${failures} failed.
JSON lines: $json
EOF
[ "$failures" = 0 ]
