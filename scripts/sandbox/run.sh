#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh [--timeout SEC] [--mem MiB] [--smp N] [--log FILE] [--append ARGS]
#        [--mttcg] -- CMD [ARGS...]
#
# Run CMD as root inside a throwaway VM that boots the host's newest
# Debian kernel under TCG, with KVM (kvm-amd, nested SVM from `-cpu max`)
# loaded. The host's root filesystem is the VM's root, read-only, so every
# host binary and library is there; /tmp, /run, /var/tmp, /var/log, /root
# are tmpfs. CMD starts in the project root with
#   KMIG_OUT  a directory shared writable with the host
#             (build/sandbox/out, emptied at each run),
#   KVER      the running kernel,
#   KMIG_SANDBOX=1, and the caller's KMIG_* and CI variables.
# KVER in the environment boots another installed kernel than the newest.
# The guest console streams to stdout (and to FILE with --log; the last
# run's is always in build/sandbox/console.log). --append adds kernel
# command-line parameters after the runner's own (panic_on_warn etc. stay),
# e.g. --append slub_debug=FZPU; given twice, both are added. --mttcg runs
# the VM with multi-threaded TCG (one host thread per vCPU) instead of the
# default single thread, for benchmarks that measure scaling
# (bench/parallel.sh); see the note on thread=single below.
#
# Exit status: CMD's, or 125 when the sandbox died instead (kernel panic,
# a WARN under panic_on_warn, timeout, no result). qemu's own exit status
# is never taken as CMD's.

set -euo pipefail

usage() {
	sed -n '4,30s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

timeout_s=${KMIG_SANDBOX_TIMEOUT:-900}
mem=2048
smp=2
log=
extra_append=
tcg_thread=single
while [ $# -gt 0 ]; do
	case "$1" in
	--timeout) timeout_s=${2:?}; shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--smp) smp=${2:?}; shift 2 ;;
	--log) log=${2:?}; shift 2 ;;
	--append) extra_append+=" ${2:?}"; shift 2 ;;
	--mttcg) tcg_thread=multi; shift ;;
	--) shift; break ;;
	*) usage ;;
	esac
done
[ $# -gt 0 ] || usage

die() {
	echo "kmig-sandbox: $*" >&2
	exit 125
}

project=$(cd "$(dirname "$0")/../.." && pwd -P)
sandbox=$project/build/sandbox
out=$sandbox/out
console=$sandbox/console.log
[ -z "$log" ] || log=$(realpath -m "$log")

# The newest kernel complete enough to boot, unless KVER names one; the
# module must be built against that same kernel's headers.
if [ -z "${KVER:-}" ]; then
	for k in $(ls -1 /lib/modules 2>/dev/null | sort -rV); do
		if [ -e "/boot/vmlinuz-$k" ] && [ -e "/lib/modules/$k/modules.dep" ]; then
			KVER=$k
			break
		fi
	done
fi
[ -n "${KVER:-}" ] || die "no kernel in /boot with modules in /lib/modules; run scripts/install-deps.sh"
kernel=/boot/vmlinuz-$KVER
[ -r "$kernel" ] || die "$kernel not readable (run as root)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing; run scripts/install-deps.sh"

mkdir -p "$sandbox"
# One run at a time: they share the out directory.
exec 9>"$sandbox/lock"
if ! flock -n 9; then
	echo "kmig-sandbox: waiting for another run to finish" >&2
	flock -w 3600 9 || die "another sandbox run holds $sandbox/lock"
fi

initrd=$sandbox/initramfs-$KVER.cpio
"$project/scripts/sandbox/mkinitramfs.sh" "$KVER" "$initrd" ||
	die "could not build the initramfs"

rm -rf "$out"
mkdir -p "$out"
token=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')

# Quote for sh, which runs these inside the guest.
q() {
	printf "'%s'" "${1//\'/\'\\\'\'}"
}

# Read by init. Absolute paths go through this file, not the kernel command
# line, whose values must not contain dots.
{
	echo "PROJECT=$(q "$project")"
	echo "OUT=$(q "$out")"
	echo "KVER=$(q "$KVER")"
	echo "TOKEN=$(q "$token")"
} >"$out/sandbox.conf"

{
	echo "# Written by scripts/sandbox/run.sh; runs in the sandbox."
	echo "cd $(q "$project") || exit 125"
	echo "export KMIG_OUT=$(q "$out") KVER=$(q "$KVER") KMIG_SANDBOX=1"
	while IFS='=' read -r name _; do
		case "$name" in
		KMIG_OUT|KMIG_SANDBOX) ;;
		KMIG_*|CI) echo "export $name=$(q "${!name}")" ;;
		esac
	done < <(env)
	printf 'exec'
	for a in "$@"; do
		printf ' %s' "$(q "$a")"
	done
	echo
} >"$out/cmd.sh"

# qemu splits -virtfs options at commas; a literal comma is doubled.
virtfs() {
	echo "local,path=${1//,/,,},mount_tag=$2,security_model=none,multidevs=remap${3:-}"
}

# panic=-1 with -no-reboot: a panic ends qemu at once. panic_on_warn and
# oops=panic make a kernel WARN or Oops end the run, with its trace on the
# console, instead of leaving a broken kernel to run the rest of the tests.
# loglevel=5 after quiet: warnings reach the console too (a WARN's
# "WARNING: ... at file:line" line is level 4). unknown_nmi_panic: see the
# watchdog below. trace_clock=global: what TCG's unstable TSC makes the
# kernel switch to anyway, minus the four-line notice.
append="console=ttyS0 quiet loglevel=5 panic=-1 panic_on_warn=1 oops=panic"
append+=" unknown_nmi_panic log_buf_len=4M trace_clock=global"
# --append: the caller's parameters last, so they win where the kernel
# takes the last of a repeated one; e.g. slub_debug=FZPU for the fuzzers.
append+=$extra_append

# The serial console's CRLFs, and the BIOS's and kernel's terminal resets
# and colours, which would only garble logs.
tidy='s/\r$//; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/^\x1bc//; s/\x1bc/\n/g'

# The watchdog: when the time is up, it prints every vCPU's registers from
# the qemu monitor (is a CPU halted, in a nested guest, where), then sends
# an NMI, which makes the guest kernel panic and print the stack it was
# stuck in: a hang with interrupts off would otherwise show nothing (TCG
# has no NMI watchdog). timeout(1) ends qemu if even that fails.
monitor=$(mktemp -u /tmp/kmig-sandbox.XXXXXX)
timed_out=$monitor.timed-out
watchdog=
cleanup() {
	[ -z "$watchdog" ] || kill "$watchdog" 2>/dev/null || true
	rm -f "$monitor" "$timed_out"
}
trap cleanup EXIT
python3 - "$monitor" "$timeout_s" "$timed_out" "$console" 2>/dev/null <<'PY' &
import re, socket, sys, time
monitor, timeout_s, flag, console = sys.argv[1:5]
time.sleep(float(timeout_s))
open(flag, "w").close()
s = socket.socket(socket.AF_UNIX)
s.connect(monitor)
s.settimeout(2)

# Which CPU, halted or not, where, its general registers, paging and EFER
# (SVME: in a nested guest?): enough to tell a stuck CPU's state.
keep = re.compile(r"\*? *CPU ?#|R[A-Z0-9 ]{2}=|CR0=|EFER=")

def hmp(command):
    s.sendall(command.encode() + b"\n")
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]|\r", "", data.decode(errors="replace"))
    with open(console, "a") as log:
        for line in text.splitlines():
            if keep.match(line):
                line = "kmig-sandbox: " + line
                print(line, flush=True)
                log.write(line + "\n")

hmp("")
print("kmig-sandbox: timeout: vCPU state, then an NMI", flush=True)
hmp("info cpus")
hmp("info registers -a")
hmp("nmi")
PY
watchdog=$!

: >"$console"
start=$(date +%s)
set +e
# thread=single: with multi-threaded TCG a nested KVM guest sometimes
# freezes one virtual CPU for good (RCU stalls in kvm_destroy_vm), with or
# without kmig loaded; one TCG thread never did. --mttcg (thread=multi) is
# for benchmarks only, which retry a run that hangs (bench/parallel.sh).
timeout --foreground -k 10 $((timeout_s + 30)) \
	qemu-system-x86_64 -accel "tcg,thread=$tcg_thread" -cpu max -smp "$smp" -m "$mem" \
	-nographic -no-reboot -nic none \
	-monitor "unix:$monitor,server=on,wait=off" \
	-kernel "$kernel" -initrd "$initrd" -append "$append" \
	-virtfs "$(virtfs / hostroot ,readonly=on)" \
	-virtfs "$(virtfs "$project" kmigproject ,readonly=on)" \
	-virtfs "$(virtfs "$out" kmigout)" \
	</dev/null 2>&1 | sed -u "$tidy" | tee -a "$console" ${log:+"$log"}
qemu_rc=${PIPESTATUS[0]}
kill "$watchdog" 2>/dev/null
wait "$watchdog" 2>/dev/null
set -e
elapsed=$(($(date +%s) - start))

# The result file is the answer; the console marker is there for a reader
# and as a fallback. Both carry this run's random token, so stale or
# printed-by-accident results do not count.
rc=
[ -f "$out/result" ] && read -r t r <"$out/result" && [ "$t" = "$token" ] && rc=$r
if [ -z "$rc" ]; then
	rc=$(sed -n "s/^KMIG-SANDBOX-RESULT $token \([0-9]*\)\$/\1/p" "$console" | tail -n 1)
	[ -z "$rc" ] || echo "kmig-sandbox: result file missing, using the console marker" >&2
fi

if [ -e "$timed_out" ]; then
	die "timed out after ${timeout_s}s (stuck CPU's stack above; console in $console)"
elif grep -q 'Kernel panic - not syncing' "$console"; then
	die "the kernel panicked (trace above; console in $console)"
elif [ -n "$rc" ]; then
	echo "kmig-sandbox: exit status $rc after ${elapsed}s" >&2
	# A test suite's "N passed, N failed, N skipped" stays the last line.
	grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$console" | tail -n 1 || true
	exit "$rc"
elif [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
	die "timed out after $((timeout_s + 30))s (console in $console)"
else
	die "the VM stopped without a result (qemu exit $qemu_rc; console in $console)"
fi
