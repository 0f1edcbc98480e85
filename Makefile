# OKS — one Makefile for the whole tree.
#
#   make              build every program into build/bin/
#   make check        install missing packages, build, run every test (unit tests also under
#                     AddressSanitizer + UBSan, in build/asan/), integration tests against real
#                     gpg, sq, SKS and a real mail stack
#   make check-fast   both builds, unit tests and corpus replays of both; no integration tests
#   make fuzz         build the libFuzzer targets with clang, run each for FUZZ_SECONDS
#                     (FUZZ_ONLY="moverec etcd": only those)
#   make bench        run the benchmarks under bench/
#   make run          start the embedded default cluster under ./var/ in the foreground
#   make config-doc   regenerate docs/config.md and man/oks.conf.5 from the settings table (lib/conf_table.c)
#
# Layout rules (no per-file edits needed when a file is added):
#   lib/*.c                       shared code, linked into everything
#   DIR/main.c + DIR/*.c          one program per folder (table PROGRAMS below); the other .c files
#                                 of DIR are its units, also linked into DIR's unit tests
#   DIR/*.cc                      C++ units (only where a C API is not enough: shard/store_env.cc)
#   tests/unit/MOD/test_*.c       one cmocka binary each, linked with lib/ and MOD's units
#   tests/fuzz/fuzz_*.c           libFuzzer targets (LLVMFuzzerTestOneInput), linked with lib/
#   tests/integration/*.sh        run in order by tests/run.sh
# Comments stay on their own lines: in make, "X := y   # note" keeps the spaces inside X.

MODE       ?= release
PKG_CONFIG ?= pkg-config
FUZZ_SECONDS ?= 60
.DEFAULT_GOAL := all

ifeq ($(MODE),release)
BUILD := build
else
BUILD := build/$(MODE)
endif
BIN := $(BUILD)/bin
OBJ := $(BUILD)/obj
GEN := $(BUILD)/gen

# directory -> program name
PROGRAMS := shard:oks-shard router:oks-router gw-http:oks-gw-http gw-mail:oks-gw-mail \
            sync:oks-sync oksctl:oksctl bench:oks-bench gw-dns:oks-gw-dns gw-ldap:oks-gw-ldap
prog_dir  = $(word 1,$(subst :, ,$(1)))
prog_name = $(word 2,$(subst :, ,$(1)))
PRESENT   := $(foreach p,$(PROGRAMS),$(if $(wildcard $(call prog_dir,$(p))/main.c),$(p)))

# no leveldb.pc in Debian 12; libetpan.pc would force -no-pie; h2o needs -DH2O_USE_LIBUV=0
LIBS := -Wl,--as-needed -lleveldb -lzmq $(shell $(PKG_CONFIG) --libs libgcrypt jansson) \
        -lh2o-evloop -lssl -lcrypto -letpan -lprotobuf-c -linih -lknot -lm -lstdc++
# oks-bench seal-cost times CURVE's cipher itself (libsodium, the library libzmq seals with)
LIBS += -lsodium
# readiness notices to systemd (lib/notify.c)
LIBS += $(shell $(PKG_CONFIG) --libs libsystemd)
# the /metrics server of the daemons without an HTTP server of their own (lib/metrics_http.c)
LIBS += $(shell $(PKG_CONFIG) --libs libmicrohttpd)
# the etcd client (lib/etcd.c): etcd's JSON gateway over HTTP(S)
LIBS += $(shell $(PKG_CONFIG) --libs libcurl)
TEST_LIBS := -lcmocka

WARN           := -Wall -Wextra -Wno-missing-braces -Wshadow -Wformat=2 -Wvla
CFLAGS_release := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong
CFLAGS_asan    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
                  -fno-sanitize-recover=undefined
LDFLAGS_asan   := -fsanitize=address,undefined
override CFLAGS  := -std=gnu11 -pthread -D_GNU_SOURCE -DH2O_USE_LIBUV=0 -I. -I$(GEN) $(WARN) \
                    $(CFLAGS_$(MODE)) $(CFLAGS)
override LDFLAGS := -pthread $(LDFLAGS_$(MODE)) $(LDFLAGS)
override CXXFLAGS := -std=gnu++17 -pthread -D_GNU_SOURCE -I. $(WARN) $(CFLAGS_$(MODE)) $(CXXFLAGS)

obj = $(patsubst %.cc,$(OBJ)/%.o,$(patsubst %.c,$(OBJ)/%.o,$(1)))

PROTO_SRC := $(wildcard proto/oks.proto)
ifneq ($(PROTO_SRC),)
PROTO_C := $(GEN)/proto/oks.pb-c.c
PROTO_H := $(GEN)/proto/oks.pb-c.h
$(PROTO_C) $(PROTO_H) &: proto/oks.proto
	@mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) $<
endif

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(call obj,$(LIB_SRCS)) $(if $(PROTO_C),$(PROTO_C:.c=.o))
units    = $(call obj,$(filter-out $(1)/main.c,$(wildcard $(1)/*.c $(1)/*.cc)))

ALL_BINS := $(foreach p,$(PRESENT),$(BIN)/$(call prog_name,$(p)))
all: $(ALL_BINS)

# units a program borrows from another folder
EXTRA_bench := shard/store.c shard/store_slots.c shard/store_search.c shard/store_batch.c shard/store_fresh.c shard/keyidx.c shard/intersect.c shard/store_env.cc

define PROGRAM_rules
$(BIN)/$(call prog_name,$(1)): $(call obj,$(wildcard $(call prog_dir,$(1))/*.c $(call prog_dir,$(1))/*.cc) \
    $(EXTRA_$(call prog_dir,$(1)))) $(LIB_OBJS)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $(LIBS)
endef
$(foreach p,$(PRESENT),$(eval $(call PROGRAM_rules,$(p))))

# unit tests: tests/unit/MOD/test_X.c -> $(BUILD)/tests/MOD/test_X
UNIT_SRCS  := $(wildcard tests/unit/*/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
unit_mod    = $(word 3,$(subst /, ,$(1)))
define UNIT_rules
$(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(1)): $(call obj,$(1)) \
    $(if $(filter lib,$(call unit_mod,$(1))),,$(call units,$(call unit_mod,$(1))) \
    $(call obj,$(EXTRA_$(call unit_mod,$(1))))) $(LIB_OBJS)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $(TEST_LIBS) $(LIBS)
endef
$(foreach t,$(UNIT_SRCS),$(eval $(call UNIT_rules,$(t))))

# fuzz targets replayed over their seed corpus with a plain driver (runs in make check)
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/replay/%,$(FUZZ_SRCS))
$(BUILD)/tests/replay/%: $(OBJ)/tests/fuzz/%.o $(OBJ)/tests/fuzz/replay_main.o $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# C drivers of integration scripts: tests/integration/helpers/X.c -> $(BUILD)/tests/helpers/X
HELPER_SRCS := $(wildcard tests/integration/helpers/*.c)
HELPER_BINS := $(patsubst tests/integration/helpers/%.c,$(BUILD)/tests/helpers/%,$(HELPER_SRCS))
$(BUILD)/tests/helpers/%: $(OBJ)/tests/integration/helpers/%.o $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

tests: $(UNIT_BINS) $(REPLAY_BINS) $(HELPER_BINS)

$(OBJ)/%.o: %.c | $(PROTO_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<
$(OBJ)/%.o: %.cc
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -MMD -MP -c -o $@ $<
$(GEN)/%.o: $(GEN)/%.c
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

export ASAN_OPTIONS  := abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS  := suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0

# ---- top-level targets ------------------------------------------------------------------

deps:
	@bash deploy/deps.sh

# unit tests and corpus replays of this MODE
unit: tests
	@bash tests/run.sh unit $(BUILD)

check: deps
	$(MAKE) -j2 all tests
	$(MAKE) -j2 MODE=asan all tests
	@bash tests/run.sh all build build/asan

# a unit test (tests/unit/lib/test_conf.c) fails while docs/config.md or man/oks.conf.5 differs
# from the table
config-doc: $(BIN)/oksctl
	$(BIN)/oksctl config doc >docs/config.md
	$(BIN)/oksctl config man >man/oks.conf.5

check-fast:
	$(MAKE) -j2 all tests
	$(MAKE) -j2 MODE=asan all tests
	@bash tests/run.sh unit build
	@bash tests/run.sh unit build/asan

run: deps all
	@bash deploy/local.sh run --dir var

bench: deps all
	@bash bench/run.sh

FUZZ_BUILD := build/fuzz
FUZZ_CFLAGS := -std=gnu11 -pthread -D_GNU_SOURCE -DH2O_USE_LIBUV=0 -I. -I$(FUZZ_BUILD)/gen -O1 -g \
               -fsanitize=fuzzer,address,undefined
fuzz: deps
	@bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_ONLY)

clean:
	rm -rf build

.PHONY: all tests unit check check-fast run bench fuzz deps clean config-doc

# Objects that only a pattern rule names (fuzz and replay objects) are intermediate files to
# make, which deletes them after linking and rebuilds them on the next run: keep them all.
.SECONDARY:

# ---- installation and the Debian package (docs/operations.md) ----------------------------
#   make install [PREFIX=/usr/local] [DESTDIR=]   programs, /etc/oks/oks.conf (kept when it
#                                                 exists), templates, man pages, systemd units
#   make uninstall [same variables]               removes them (oks.conf only when unchanged)
#   make deb                                      build/deb/oks_*.deb (dpkg-buildpackage in a
#                                                 copy of the tree)
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
SYSCONFDIR  ?= /etc
ifeq ($(PREFIX),/usr)
UNITDIR     ?= $(or $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system)
SYSUSERSDIR ?= $(or $(shell $(PKG_CONFIG) --variable=sysusersdir systemd 2>/dev/null),/usr/lib/sysusers.d)
else
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
endif
DAEMONS     := oks-shard oks-router oks-gw-http oks-gw-mail oks-sync oks-gw-dns oks-gw-ldap
UNITS       := $(notdir $(wildcard deploy/systemd/*.service))
MAN1        := $(wildcard man/*.1)
MAN8        := $(wildcard man/*.8)
MAN5        := man/oks.conf.5
TMPL        := $(BUILD)/share/templates

# the built-in page and reply templates, as dump-templates writes them
$(TMPL)/http.stamp: $(BIN)/oks-gw-http
	rm -rf $(TMPL)/http && mkdir -p $(TMPL)/http
	$< dump-templates $(TMPL)/http
	touch $@
$(TMPL)/mail.stamp: $(BIN)/oks-gw-mail
	rm -rf $(TMPL)/mail && mkdir -p $(TMPL)/mail
	$< dump-templates $(TMPL)/mail
	touch $@

# what install copies
programs: $(addprefix $(BIN)/,$(DAEMONS) oksctl) $(TMPL)/http.stamp $(TMPL)/mail.stamp

install: programs
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/oks \
	    $(DESTDIR)$(DATADIR)/oks/templates/http $(DESTDIR)$(DATADIR)/oks/templates/mail \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(addprefix $(BIN)/,$(DAEMONS)) $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(BIN)/oksctl $(DESTDIR)$(BINDIR)/
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/oks/oks.conf ]; then \
	  echo "keeping $(DESTDIR)$(SYSCONFDIR)/oks/oks.conf"; \
	else \
	  echo "install -m 0644 deploy/oks.conf.example $(DESTDIR)$(SYSCONFDIR)/oks/oks.conf"; \
	  install -m 0644 deploy/oks.conf.example $(DESTDIR)$(SYSCONFDIR)/oks/oks.conf; \
	fi
	install -m 0644 deploy/oks.conf.example $(DESTDIR)$(DATADIR)/oks/oks.conf.example
	install -m 0644 $(TMPL)/http/* $(DESTDIR)$(DATADIR)/oks/templates/http/
	install -m 0644 $(TMPL)/mail/* $(DESTDIR)$(DATADIR)/oks/templates/mail/
	install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	for u in $(UNITS); do \
	  sed -e 's|/usr/sbin/|$(SBINDIR)/|g' -e 's|/etc/oks/|$(SYSCONFDIR)/oks/|g' \
	      deploy/systemd/$$u >$(DESTDIR)$(UNITDIR)/$$u && \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 deploy/systemd/oks.sysusers $(DESTDIR)$(SYSUSERSDIR)/oks.conf

uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(DAEMONS)) $(DESTDIR)$(BINDIR)/oksctl
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8)))
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS)) $(DESTDIR)$(SYSUSERSDIR)/oks.conf
	rm -rf $(DESTDIR)$(DATADIR)/oks
	@if cmp -s deploy/oks.conf.example $(DESTDIR)$(SYSCONFDIR)/oks/oks.conf; then \
	  echo "rm -f $(DESTDIR)$(SYSCONFDIR)/oks/oks.conf"; rm -f $(DESTDIR)$(SYSCONFDIR)/oks/oks.conf; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/oks/oks.conf ]; then \
	  echo "keeping $(DESTDIR)$(SYSCONFDIR)/oks/oks.conf (changed)"; \
	fi
	rmdir $(DESTDIR)$(SYSCONFDIR)/oks 2>/dev/null || true

DEB_DIR := build/deb
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/oks
	tar -c --exclude=./build --exclude=./var --exclude-vcs -f - . | tar -x -C $(DEB_DIR)/oks -f -
	cd $(DEB_DIR)/oks && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MODE \
	    DEB_BUILD_OPTIONS="parallel=$$(nproc) $$DEB_BUILD_OPTIONS" dpkg-buildpackage -us -uc -b
	@ls $(DEB_DIR)/*.deb

.PHONY: programs install uninstall deb

-include $(shell find $(OBJ) $(GEN) -type f -name '*.d' 2>/dev/null)
