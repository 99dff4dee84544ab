#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# demo.sh: the main job, run inside the sandbox (make demo). Two network
# namespaces joined by a veth pair play two hosts: the source runs kmig-vmm
# with the counter workload, the destination an --incoming kmig-vmm;
# kmigctl live-migrates the guest over TCP between them, prints its report,
# and the destination VMM checks the migrated guest's memory after it ran.
#
# The sandbox VM has no network card: these addresses exist only inside
# the namespaces made here.
#
# Environment: KMIG_DEMO_MEM (MiB, 256), KMIG_DEMO_WORKLOAD (counter),
# KMIG_DEMO_CHANNELS (2).

set -euo pipefail

mem=${KMIG_DEMO_MEM:-256}
workload=${KMIG_DEMO_WORKLOAD:-counter}
channels=${KMIG_DEMO_CHANNELS:-2}
vmm=build/vmm/kmig-vmm
kmigctl=build/user/kmigctl
run=$(mktemp -d /tmp/kmig-demo.XXXXXX)
src_ip=10.77.0.1
dst_ip=10.77.0.2
port=4444
pids=()

say() { printf '\n== %s\n' "$*"; }

# shellcheck source=scripts/lib/procs.sh
. scripts/lib/procs.sh
who=demo

cleanup() {
	kmig_cleanup
	ip netns del kmig-src 2>/dev/null || true
	ip netns del kmig-dst 2>/dev/null || true
}
trap cleanup EXIT

say "loading kmig.ko"
insmod ./kmig.ko

say "two hosts: namespaces kmig-src ($src_ip) and kmig-dst ($dst_ip)"
modprobe veth
ip netns add kmig-src
ip netns add kmig-dst
ip link add veth-src type veth peer name veth-dst
ip link set veth-src netns kmig-src
ip link set veth-dst netns kmig-dst
ip -n kmig-src addr add $src_ip/24 dev veth-src
ip -n kmig-dst addr add $dst_ip/24 dev veth-dst
for ns in kmig-src kmig-dst; do
	ip -n $ns link set lo up
done
ip -n kmig-src link set veth-src up
ip -n kmig-dst link set veth-dst up

say "source: kmig-vmm, $mem MiB, workload $workload"
ip netns exec kmig-src $vmm --control "$run/src.sock" --mem "$mem" \
	--workload "$workload" >"$run/src.log" 2>&1 &
pids+=($!)
say "destination: kmig-vmm --incoming, checks the guest 5 s after it resumes"
ip netns exec kmig-dst $vmm --control "$run/dst.sock" --mem "$mem" \
	--incoming --check-after 5 >"$run/dst.log" 2>&1 &
dst_vmm=$!
kmig_wait_for "$run/src.log" "kmig-vmm: ready"
kmig_wait_for "$run/dst.log" "kmig-vmm: ready"
# Let the guest run (and dirty memory) for a moment before migrating.
sleep 2

# Only the real source may feed the destination: both hold one secret,
# prove it on every channel, and MAC every frame (--auth-key).
say "a shared key for both hosts: $run/auth.key"
(umask 077 && head -c 32 /dev/urandom >"$run/auth.key")

say "kmigctl incoming on $dst_ip:$port --auth-key"
ip netns exec kmig-dst $kmigctl incoming --vmm "$run/dst.sock" \
	--listen "tcp:$dst_ip:$port" --auth-key "$run/auth.key" \
	>"$run/incoming.log" 2>&1 &
incoming=$!
pids+=($incoming)
sleep 1

say "kmigctl migrate --to tcp:$dst_ip:$port --channels $channels --auth-key"
rc=0
ip netns exec kmig-src $kmigctl migrate --vmm "$run/src.sock" \
	--to "tcp:$dst_ip:$port" --channels "$channels" \
	--auth-key "$run/auth.key" || rc=$?
irc=0
wait "$incoming" || irc=$?
[ "$rc" != 0 ] || rc=$irc
echo "-- destination side:"
cat "$run/incoming.log"
[ "$rc" = 0 ] || { echo "demo: migration failed ($rc)" >&2; exit 1; }

say "the destination guest keeps running; its checker's verdict:"
vrc=0
wait "$dst_vmm" || vrc=$?
grep "kmig-vmm: check" "$run/dst.log" || cat "$run/dst.log"
kmigctl_status=$($kmigctl status 2>&1 || true)
[ -z "$kmigctl_status" ] || echo "$kmigctl_status"
exit "$vrc"
