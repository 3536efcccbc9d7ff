# swarmd - build, run, test.
#   make            optimised build: build/release/swarmd
#   make run        build and start swarmd on :6969 in the foreground
#   make test       install missing test dependencies, build, run every suite
#   make bench      benchmarks (bench/)      make fuzz   long libFuzzer runs (fuzz/)
#   make bench-cluster   cluster-mode overhead and sync lag only (bench/cluster_bench.py)
#   make install    binary, man page, sample config, systemd unit (PREFIX, DESTDIR)
# Variants (VARIANT=...): release (operators; no -Werror), check (release + -Werror, used by
# make test), asan (ASan+UBSan, -fno-sanitize-recover=all, -Werror).

VARIANT ?= release
O := build/$(VARIANT)
CC ?= cc
ifeq ($(CC),cc)
CC := gcc
endif

UNAME_S := $(shell uname -s)
ifeq ($(UNAME_S),Linux)
LOOP_BACKEND ?= epoll
else
LOOP_BACKEND ?= poll
endif

WARN := -Wall -Wextra -Wshadow -Wpointer-arith -Wmissing-prototypes -Wstrict-prototypes
BASE_CFLAGS := -std=gnu11 -g $(WARN) -D_GNU_SOURCE -Isrc -pthread -MMD -MP
ifeq ($(VARIANT),release)
VCFLAGS := -O2
else ifeq ($(VARIANT),check)
VCFLAGS := -O2 -Werror
else ifeq ($(VARIANT),asan)
VCFLAGS := -O1 -Werror -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
else
$(error unknown VARIANT $(VARIANT))
endif
ALL_CFLAGS := $(BASE_CFLAGS) $(VCFLAGS) $(CFLAGS)
ALL_LDFLAGS := -pthread $(filter -fsanitize=%,$(VCFLAGS)) $(LDFLAGS)
LIBS := -lz

# hiredis (cluster mode only) is optional: found by a test compile (works with or without
# pkg-config), or forced off with HIREDIS=0. Without it swarmd builds standalone and a
# cluster.engine setting is a start-up error.
HIREDIS ?= $(shell printf '\043include <hiredis/hiredis.h>\nint main(void){redisContext *c = redisConnectFd(0); return c == 0;}\n' | \
	$(CC) -x c - -o /dev/null -lhiredis >/dev/null 2>&1 && echo 1 || echo 0)
ifeq ($(HIREDIS),1)
ALL_CFLAGS += -DSWARMD_HAVE_HIREDIS=1
LIBS += -lhiredis
else ifeq ($(origin HIREDIS),file)
$(info hiredis not found: building without cluster mode (apt-get install libhiredis-dev; make test installs it))
endif

LIB_SRC := $(filter-out src/main.c src/net/loop_%.c,$(wildcard src/*.c src/*/*.c)) \
	src/net/loop_$(LOOP_BACKEND).c
LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
REPLAY_BIN := $(FUZZ_SRC:fuzz/fuzz_%.c=$(O)/fuzz/replay_%)

.PHONY: all run test unit-bins clean bench fuzz deps
all: $(O)/swarmd

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(O)/libswarmd.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(O)/swarmd: $(O)/src/main.o $(O)/libswarmd.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(O)/tests/%: $(O)/tests/unit/%.o $(O)/libswarmd.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# Fuzz harnesses linked with a deterministic driver that replays corpus files once each.
$(O)/fuzz/replay_%: $(O)/fuzz/fuzz_%.o $(O)/fuzz/replay.o $(O)/libswarmd.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# Everything make test needs from one variant.
unit-bins: $(O)/swarmd $(UNIT_BIN) $(REPLAY_BIN)

run: all
	./$(O)/swarmd --tracker.statefile=swarmd.state

deps:
	@sh tests/deps.sh

test: deps
	$(MAKE) VARIANT=check unit-bins
	$(MAKE) VARIANT=asan unit-bins
	@sh tests/run.sh

bench: deps
	$(MAKE) VARIANT=release all
	$(MAKE) bench-progs
	@sh bench/run.sh
	@$(MAKE) --no-print-directory bench-statefile
	@/usr/bin/python3 bench/ws_relay.py
	@/usr/bin/python3 bench/cluster_bench.py

# State file (issue 7): snapshot and restore time and bytes per peer, 1M peers in 100k
# torrents, written to the working folder and removed.
.PHONY: bench-statefile
bench-statefile:
	$(MAKE) VARIANT=release all
	@mkdir -p build/bench
	$(CC) -std=gnu11 -O2 -D_GNU_SOURCE -pthread -Isrc bench/statefile_bench.c \
		build/release/libswarmd.a $(LIBS) -o build/bench/statefile_bench
	@echo "State file, 1M IPv4 peers in 100k torrents:"
	@build/bench/statefile_bench 100000 10

# Cluster mode (issue 9 item 12): overhead of applying remote deltas, sync lag (needs
# redis-server and a build with hiredis; prints a table, skips without them).
.PHONY: bench-cluster
bench-cluster:
	$(MAKE) VARIANT=release all
	$(MAKE) bench-progs
	@/usr/bin/python3 bench/cluster_bench.py

# ---- benchmark programs (bench/run.sh): standalone load generator and trivial responders,
# built on their own (no libswarmd) with -O2, whatever VARIANT says. ----
BENCH_PROGS := build/bench/udpload build/bench/trivial_udp build/bench/trivial_http \
               build/bench/wsload
BENCH_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -pthread
.PHONY: bench-progs
bench-progs: $(BENCH_PROGS)
$(BENCH_PROGS): build/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -Isrc -o $@ $< $(BENCH_SRCS_$*) -lm
# The WebSocket generator checks the handshake with swarmd's own pure SHA-1 and base64.
BENCH_SRCS_wsload := src/util/sha1.c src/util/base64.c
build/bench/wsload: $(BENCH_SRCS_wsload)
# ---- end of benchmark programs ----

FUZZ_SECONDS ?= 600
fuzz:
	@sh fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf build

# ---- make install [PREFIX=/usr/local] [DESTDIR=] [SYSCONFDIR=] [SWARMD_BIN=]: binary, man
# page, sample config, systemd unit. Paths inside the unit and the sample config are rewritten
# to PREFIX and SYSCONFDIR (/etc when PREFIX is /usr, else PREFIX/etc). An existing swarmd.conf
# is never overwritten. SWARMD_BIN installs an already built binary (e.g. build/check/swarmd)
# instead of building $(O)/swarmd. ----
PREFIX ?= /usr/local
ifeq ($(PREFIX),/usr)
SYSCONFDIR ?= /etc
else
SYSCONFDIR ?= $(PREFIX)/etc
endif
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR ?= $(PREFIX)/share/man
SWARMD_BIN ?= $(O)/swarmd
INSTALL_SED := sed -e 's|/usr/local/bin/|$(PREFIX)/bin/|g' -e 's|/usr/local/etc/|$(SYSCONFDIR)/|g'
.PHONY: install
install: $(SWARMD_BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(UNITDIR)
	install -m 755 $(SWARMD_BIN) $(DESTDIR)$(PREFIX)/bin/swarmd
	install -m 644 docs/swarmd.8 $(DESTDIR)$(MANDIR)/man8/swarmd.8
	test -e $(DESTDIR)$(SYSCONFDIR)/swarmd.conf || { \
		$(INSTALL_SED) contrib/swarmd.conf > $(DESTDIR)$(SYSCONFDIR)/swarmd.conf && \
		chmod 644 $(DESTDIR)$(SYSCONFDIR)/swarmd.conf; }
	$(INSTALL_SED) contrib/swarmd.service > $(DESTDIR)$(UNITDIR)/swarmd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/swarmd.service
# ---- end of install ----

-include $(shell find build -name '*.d' 2>/dev/null)
