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
	scripts/sandbox/run.sh --timeout 1500 -- selftests/run_tests.sh

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

# kmig against QEMU's own migration, side by side in one sandbox run
# (bench/peer/run.sh): the table on stdout, the runs in build/bench/peer.json.
bench-peer: all
	mkdir -p $(BUILD)/bench
	$(CC) -O2 -Wall -Wextra -Werror -o $(BUILD)/bench/memcpy_bw bench/memcpy_bw.c
	$(MAKE) -C bench/peer O=$(BUILD)/bench/peer VMM_OBJ=$(BUILD)/vmm/obj
	scripts/sandbox/run.sh --mem 3072 --timeout 3600 -- bench/peer/run.sh
	cp $(BUILD)/sandbox/out/bench-peer.json $(BUILD)/bench/peer.json

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean || true
	rm -rf $(BUILD)

help:
	@echo "make [all|kmod|user|vmm|selftests|unit|style|sparse|check|demo|bench|bench-peer|clean]"

.PHONY: all kmod user vmm selftests unit uapi-check style sparse check demo bench bench-peer clean help
