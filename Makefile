# SPDX-License-Identifier: GPL-2.0
#
# kmig top-level build. `make` builds the module, libkmig, kmigctl and the
# selftests; `make check` is the whole test suite (README); see `make help`.

KVER ?= $(shell if [ -d /lib/modules/$$(uname -r)/build ]; then uname -r; \
	  else ls -1 /lib/modules 2>/dev/null | sort -V | tail -n 1; fi)
KDIR ?= /lib/modules/$(KVER)/build
BUILD ?= $(CURDIR)/build
export BUILD

all: kmod user vmm selftests

kmod:
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

user:
	$(MAKE) -C user O=$(BUILD)/user

vmm:
	$(MAKE) -C user/vmm O=$(BUILD)/vmm

selftests: user
	$(MAKE) -C selftests O=$(BUILD)/selftests

# Userspace unit tests on the host, under ASan and UBSan.
unit:
	$(MAKE) -C user O=$(BUILD)/user-san SANITIZE=1 unit
	$(MAKE) -C user/vmm O=$(BUILD)/vmm-san SANITIZE=1
	$(MAKE) -C selftests O=$(BUILD)/selftests-san json-check proxy-check

# libFuzzer harnesses for the decoders the destination runs on the peer's
# bytes (user/fuzz/run.sh): quick replays the corpus and fuzzes each for
# 30 s (part of make check); fuzz-stream fuzzes each FUZZ_SECONDS (300)
# and merges what found new coverage into user/fuzz/corpus/.
FUZZ_SECONDS ?= 300

fuzz-stream-quick:
	$(MAKE) -C user/fuzz O=$(BUILD)/fuzz quick

fuzz-stream:
	$(MAKE) -C user/fuzz O=$(BUILD)/fuzz long FUZZ_SECONDS=$(FUZZ_SECONDS)

uapi-check:
	$(CC) -std=c90 -Wall -Wextra -Werror -fsyntax-only -Iuapi \
		-x c uapi/linux/kmig.h

style:
	scripts/checkpatch.sh

sparse:
	$(MAKE) -C $(KDIR) M=$(CURDIR) C=2 modules

# The README's test command: installs what it needs, builds, runs the unit
# tests on the host and the kselftest suite in the sandbox VM.
check:
	scripts/install-deps.sh
	$(MAKE) all uapi-check
	$(MAKE) style
	$(MAKE) unit
	$(MAKE) fuzz-stream-quick
	$(MAKE) bench-peer-test
	scripts/sandbox/run.sh --timeout 1500 -- selftests/run_tests.sh
	$(MAKE) fuzz-ioctl-quick

# Fuzzing and the soak at length: the stream decoders on the host
# (FUZZ_SECONDS each, corpus merged back into user/fuzz/corpus/), the ioctl
# fuzzer in the debug-heap sandbox, and 50 round-trip migrations.
fuzz:
	$(MAKE) fuzz-stream
	$(MAKE) fuzz-ioctl
	$(MAKE) soak

# The soak (selftests/migrate_soak_test.c) at length: one guest migrated
# back and forth SOAK_HOPS times (100: 50 round trips, about 6 minutes)
# in the sandbox; make check runs it with its default 10 hops.
SOAK_HOPS ?= 100
soak: all
	KMIG_SOAK_HOPS=$(SOAK_HOPS) KMIG_TEST_TIMEOUT=$$(($(SOAK_HOPS) * 30 + 60)) \
		scripts/sandbox/run.sh --timeout $$(($(SOAK_HOPS) * 30 + 300)) -- \
		selftests/run_tests.sh migrate_soak_test

# The ioctl fuzzer (selftests/ioctl_fuzz.c) in a sandbox of its own, with
# the debug heap (slub_debug=FZPU: Debian's 6.1 has no KASAN, kmemleak or
# KFENCE; see the fuzzer's header for why we do not build a KASAN kernel).
# FUZZ_SECONDS, FUZZ_SEED and FUZZ_ARGS (workaround switches such as
# --no-memslot-churn) reach it through run.sh; the replay line and every
# finding are in its output (selftests/ioctl_fuzz.findings.md lists them).
FUZZ_SEED ?=
FUZZ_ARGS ?=

fuzz-ioctl: all
	KMIG_FUZZ_SECONDS=$(FUZZ_SECONDS) KMIG_FUZZ_SEED=$(FUZZ_SEED) \
	KMIG_FUZZ_ARGS="$(FUZZ_ARGS)" \
	KMIG_TEST_TIMEOUT=$$(($(FUZZ_SECONDS) + 150)) \
		scripts/sandbox/run.sh --timeout $$(($(FUZZ_SECONDS) + 300)) \
		--append slub_debug=FZPU -- selftests/run_tests.sh ioctl_fuzz

# The short one, for make check.
fuzz-ioctl-quick:
	$(MAKE) fuzz-ioctl FUZZ_SECONDS=60

# The README's first command: a live migration of the reference VM between
# two network namespaces inside the sandbox.
demo:
	scripts/install-deps.sh
	$(MAKE) all
	scripts/sandbox/run.sh -- scripts/demo.sh

# Precopy benchmark (bench/): ratios against the sandbox's memcpy bandwidth.
bench: all
	mkdir -p $(BUILD)/bench
	$(CC) -O2 -Wall -Wextra -Werror -o $(BUILD)/bench/memcpy_bw bench/memcpy_bw.c
	scripts/sandbox/run.sh -- bench/migrate.sh
	cp $(BUILD)/sandbox/out/bench.json $(BUILD)/bench/migrate.json

# What the security modes cost (bench/secure.sh): every mode of kmigctl
# against --insecure, and the primitives' speeds (bench/crypto_bw.c, which
# builds kmigctl's own crc32c.c in), in one sandbox run; the table on
# stdout, the JSON lines in build/bench/secure.json.
bench-secure: all
	mkdir -p $(BUILD)/bench
	$(CC) -O2 -Wall -Wextra -Werror -Iuser/kmigctl/wire \
		$$(pkg-config --cflags gnutls) -o $(BUILD)/bench/crypto_bw \
		bench/crypto_bw.c $$(pkg-config --libs gnutls)
	scripts/sandbox/run.sh --timeout 1500 -- bench/secure.sh
	cp $(BUILD)/sandbox/out/bench-secure.json $(BUILD)/bench/secure.json

# Postcopy's fault latency against the wire (bench/postcopy.sh): the
# loopback TCP round trip and a 4 KiB copy (bench/wire_rtt.c), then postcopy
# migrations with and without the preempt channel, in one sandbox run; the
# table on stdout, the runs in build/bench/postcopy.json.
bench-postcopy: all
	mkdir -p $(BUILD)/bench
	$(CC) -O2 -Wall -Wextra -Werror -o $(BUILD)/bench/memcpy_bw bench/memcpy_bw.c
	$(CC) -O2 -Wall -Wextra -Werror -o $(BUILD)/bench/wire_rtt bench/wire_rtt.c
	scripts/sandbox/run.sh --timeout 900 -- bench/postcopy.sh
	cp $(BUILD)/sandbox/out/bench-postcopy.json $(BUILD)/bench/postcopy.json

# How kmig's data path scales with its workers (bench/parallel.sh): the
# sandbox with multi-threaded TCG and 2 vCPUs, text+zstd and random with
# --workers 1 and 2, efficiency and where the CPU goes (per-thread times,
# perf); a hung sandbox is booted once more for the runs not done. The
# table on stdout, the runs in build/bench/parallel.json.
bench-parallel: all
	mkdir -p $(BUILD)/bench
	$(CC) -O2 -Wall -Wextra -Werror -o $(BUILD)/bench/thread_cpu bench/thread_cpu.c
	bench/parallel.sh

# kmig against QEMU's own migration, side by side in one sandbox run
# (bench/peer/run.sh): the table on stdout, the runs in build/bench/peer.json.
# The peers: QEMU 10.0 from bookworm-backports (unpacked into
# build/qemu-10 by scripts/install-qemu-peer.sh, beside the system's 7.2),
# then the system's 7.2, each in its multifd and its plain mode
# (KMIG_PEER_QEMUS, KMIG_PEER_QEMU, KMIG_PEER_QEMU_MODES: see run.sh).
# bench/wire_bw.c measures the loopback TCP limit in the same run.
bench-tools: vmm
	mkdir -p $(BUILD)/bench
	$(CC) -O2 -Wall -Wextra -Werror -o $(BUILD)/bench/memcpy_bw bench/memcpy_bw.c
	$(CC) -O2 -Wall -Wextra -Werror -pthread -o $(BUILD)/bench/wire_bw bench/wire_bw.c
	$(MAKE) -C bench/peer O=$(BUILD)/bench/peer VMM_OBJ=$(BUILD)/vmm/obj
	scripts/install-qemu-peer.sh $(BUILD)/qemu-10 >/dev/null

bench-peer: all bench-tools
	scripts/sandbox/run.sh --mem 3072 --timeout 5400 -- bench/peer/run.sh
	cp $(BUILD)/sandbox/out/bench-peer.json $(BUILD)/bench/peer.json

# The QEMU half of bench-peer on the host under TCG with 256 MiB guests:
# a test that the guest workload, the QMP driver and the save/restore/
# migrate/verify sequence work, for the bare guest (every scenario, twice,
# with QEMU 10.0 in both modes) and the Linux one (idle and random, once,
# with the system's 7.2 in the multifd mode: under TCG, QEMU 7.2 has
# corrupted the rewriting Linux guest's memory in dirty, see
# Documentation/benchmarks.md).
bench-peer-test: bench-tools
	mkdir -p $(BUILD)/bench/peer-test
	KVER=$(KVER) KMIG_OUT=$(BUILD)/bench/peer-test KMIG_PEER_ACCEL=tcg \
		KMIG_PEER_PEERS=qemu KMIG_PEER_MEM=256 KMIG_PEER_REPS=2 \
		KMIG_PEER_QEMUS=10 KMIG_PEER_WIRE_S=0.5 \
		KMIG_PEER_SCENARIOS="idle zero random text dirty" \
		timeout 900 bench/peer/run.sh
	KVER=$(KVER) KMIG_OUT=$(BUILD)/bench/peer-test KMIG_PEER_ACCEL=tcg \
		KMIG_PEER_PEERS=qemu KMIG_PEER_MEM=256 KMIG_PEER_REPS=1 \
		KMIG_PEER_QEMUS=7.2 KMIG_PEER_QEMU_MODES=multifd KMIG_PEER_WIRE_S=0.5 \
		KMIG_PEER_GUEST=linux KMIG_PEER_SCENARIOS="idle random" \
		timeout 900 bench/peer/run.sh

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean || true
	rm -rf $(BUILD)

help:
	@echo "make [all|kmod|user|vmm|selftests|unit|fuzz|fuzz-stream-quick|fuzz-stream|fuzz-ioctl|fuzz-ioctl-quick|style|sparse|check|soak|demo|bench|bench-secure|bench-postcopy|bench-parallel|bench-peer|bench-peer-test|clean]"

.PHONY: all kmod user vmm selftests unit fuzz fuzz-stream-quick fuzz-stream fuzz-ioctl fuzz-ioctl-quick uapi-check style sparse check soak demo bench bench-secure bench-postcopy bench-parallel bench-tools bench-peer bench-peer-test clean help
