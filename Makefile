# sluice: `make` builds everything into build/, `make test` runs every test
# layer and ends with one line "N passed, N failed", `make demo` runs the lab.
# V=1 shows the commands; SAN=1 builds with ASan+UBSan into build/san.
# `make fuzzers` builds the libFuzzer targets into build/fuzz, `make fuzz`
# runs each for FUZZ_TIME seconds.

.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:

PREFIX     ?= /usr/local
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
MANDIR     ?= $(PREFIX)/share/man
DESTDIR    ?=

CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
ARCH    := $(shell uname -m | sed 's/x86_64/x86/; s/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

BUILD := build
ifeq ($(SAN),1)
BUILD := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wno-missing-field-initializers
DATADIR    ?= $(PREFIX)/share/sluice
CPPFLAGS += -D_GNU_SOURCE -Iinclude -Iuser -I$(BUILD) -DSLUICE_DATADIR='"$(DATADIR)"'
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) $(SANFLAGS) -MMD -MP
LDLIBS   := -lxdp -lbpf -lmnl -lcjson -lhs -licui18n -licuuc -licudata -lssl -lcrypto -lelf -lz -lpthread
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Wextra \
	-Iinclude $(if $(MULTIARCH),-I/usr/include/$(MULTIARCH))

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-7s %s\n' $(1) $(2);
endif

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
LIB_OBJS  := $(patsubst user/%.c,$(BUILD)/obj/%.o,$(wildcard user/lib/*.c))
CTL_OBJS  := $(patsubst user/%.c,$(BUILD)/obj/%.o,$(wildcard user/ctl/*.c))
GW_OBJS   := $(patsubst user/%.c,$(BUILD)/obj/%.o,$(filter-out user/gw/main.c,$(wildcard user/gw/*.c))) \
	     $(BUILD)/obj/gw/dashboard.o
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
BPFT_BINS := $(patsubst tests/bpf/%.c,$(BUILD)/tests/%,$(wildcard tests/bpf/test_*.c))
BENCH_BINS := $(patsubst scripts/bench/%.c,$(BUILD)/bench/%,$(wildcard scripts/bench/*.c))
LIBSLUICE := $(BUILD)/libsluice.a
LIBGW     := $(BUILD)/libgw.a
DEPS_STAMP := build/.deps-build
TEST_DEPS_STAMP := build/.deps-test

.PHONY: all deps test-deps tests unit-bins test demo bench install clean fuzzers fuzz
MOCK_SRCS := $(wildcard tests/mock/*.c)
all: $(BUILD)/sluicectl $(BUILD)/sluiced $(if $(MOCK_SRCS),$(BUILD)/mockllm)

deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/deps.sh
	$(Q)mkdir -p $(@D) && scripts/deps.sh build && touch $@
test-deps: $(TEST_DEPS_STAMP)
$(TEST_DEPS_STAMP): scripts/deps.sh
	$(Q)mkdir -p $(@D) && scripts/deps.sh test && touch $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(wildcard include/sluice/*.h) | $(DEPS_STAMP)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D) && $(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst .bpf.o,,$(notdir $<)) > $@

$(BUILD)/obj/%.o: user/%.c | $(SKELS) $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(LIBSLUICE): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# The admin endpoint's page, as one C string
$(BUILD)/gen/dashboard.c: user/gw/dashboard.html Makefile
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D) && awk 'BEGIN { print "const char dashboard_html[] =" } \
		{ gsub(/\\/, "&&"); gsub(/"/, "\\\""); print "\"" $$0 "\\n\"" } END { print ";" }' $< >$@

$(BUILD)/obj/gw/dashboard.o: $(BUILD)/gen/dashboard.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

# The token counter's rank tables (user/lib/bpe.h), converted from the npm
# package js-tiktoken; made once, the script does nothing when both exist
TIKTOKEN := $(BUILD)/share/tiktoken/o200k_base.tiktoken $(BUILD)/share/tiktoken/cl100k_base.tiktoken
$(TIKTOKEN) &:
	$(call msg,GEN,$(BUILD)/share/tiktoken)
	$(Q)SLUICE_BUILD=$(abspath $(BUILD)) scripts/tiktoken-ranks.sh $(BUILD)/share/tiktoken

$(LIBGW): $(GW_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/sluiced: $(BUILD)/obj/gw/main.o $(LIBGW) $(LIBSLUICE)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

MOCK_OBJS := $(patsubst tests/mock/%.c,$(BUILD)/obj/mock/%.o,$(MOCK_SRCS))
$(BUILD)/obj/mock/%.o: tests/mock/%.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/mockllm: $(MOCK_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ -lcjson -lpthread

$(BUILD)/sluicectl: $(CTL_OBJS) $(LIBGW) $(LIBSLUICE)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIBGW) $(LIBSLUICE) | $(TEST_DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIBGW) $(LIBSLUICE) $(LDLIBS) -lcmocka

$(BUILD)/tests/%: tests/bpf/%.c $(LIBSLUICE) | $(SKELS) $(TEST_DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIBSLUICE) $(LDLIBS) -lcmocka

$(BUILD)/bench/%: scripts/bench/%.c $(LIBGW) $(LIBSLUICE) | $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIBGW) $(LIBSLUICE) $(LDLIBS)

# The fuzzers (tests/fuzz/fuzz_NAME.c): clang with libFuzzer, ASan and UBSan,
# whatever SAN says, over the library compiled apart in build/fuzz/obj
FUZZ       := build/fuzz
FUZZ_TIME  ?= 300
FUZZ_SAN   := address,undefined
FUZZ_CFLAGS := -std=gnu11 $(WARN) -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=undefined -MMD -MP
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(FUZZ)/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_OBJS  := $(patsubst user/%.c,$(FUZZ)/obj/%.o,$(wildcard user/lib/*.c) \
	      $(filter-out user/gw/main.c,$(wildcard user/gw/*.c)))

$(FUZZ)/obj/%.o: user/%.c | $(SKELS) $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c $< -o $@

$(FUZZ)/libfuzz.a: $(FUZZ_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ)/libfuzz.a | $(TEST_DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) $(LDFLAGS) \
		-o $@ $< $(FUZZ)/libfuzz.a $(LDLIBS)

fuzzers: $(FUZZ_BINS)

# FUZZERS="http1 sse" runs only those; new inputs are kept in build/fuzz/corpus/NAME
fuzz: fuzzers
	$(Q)FUZZ_SECONDS=$(FUZZ_TIME) FUZZ_CORPUS=$(abspath $(FUZZ)/corpus) tests/fuzz/run.sh $(FUZZERS)

tests: all $(UNIT_BINS) $(BPFT_BINS) $(BENCH_BINS) $(TIKTOKEN) $(FUZZ_BINS)

# the sanitizer build tests/san/run.sh runs again (build/san)
unit-bins: all $(UNIT_BINS) $(BPFT_BINS)

test: test-deps tests
	$(Q)$(MAKE) --no-print-directory SAN=1 unit-bins
	$(Q)SLUICE_BUILD=$(abspath $(BUILD)) tests/run.sh

demo: all test-deps
	$(Q)SLUICE_BUILD=$(abspath $(BUILD)) scripts/demo.sh

bench: all $(BENCH_BINS)
	$(Q)scripts/deps.sh bench
	$(Q)SLUICE_BUILD=$(abspath $(BUILD)) scripts/bench/xdp.sh

# the rank tables need node and npm (js-tiktoken): deps.sh install
install: all
	$(Q)scripts/deps.sh install
	$(Q)$(MAKE) --no-print-directory $(TIKTOKEN)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/sluice \
		$(DESTDIR)$(DATADIR)/tiktoken
	install -m 0755 $(BUILD)/sluicectl $(BUILD)/sluiced $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 $(TIKTOKEN) $(DESTDIR)$(DATADIR)/tiktoken/
	install -m 0644 docs/*.8 $(DESTDIR)$(MANDIR)/man8/
	[ ! -d etc ] || cp -r etc/. $(DESTDIR)$(SYSCONFDIR)/sluice/
	@# the sample config's "user": sluiced drops to it once set up
	[ -n "$(DESTDIR)" ] || id -u sluice >/dev/null 2>&1 || \
		useradd --system --no-create-home --shell /usr/sbin/nologin sluice

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(FUZZ)/obj -name '*.d' 2>/dev/null) $(wildcard $(FUZZ)/*.d)
