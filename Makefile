# gptkit: raw text to a trained GPT-2, as Unix filters in C.
#   make          build bin/filter bin/dedup bin/bpe bin/packer bin/model
#   make demo     the whole pipeline on the bundled corpus
#   make test     build and run every test; last line "N passed, N failed"
#   make asan     the tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench    our programs timed against their peers (bench/)
#   make deps     install the Debian and npm packages the project needs (as root)
#   make corpora  build corpora/en.jsonl.gz; make corpora-big: the >= 100 MB set

CC      ?= gcc
BUILD   ?= build
BINDIR  ?= bin
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-sign-compare -pthread
CPPFLAGS += -Ilib
LDLIBS  = -lz -lxxhash -lpcre2-8 -lutf8proc -ljansson -lopenblas -lm -pthread
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

PROGS   = filter dedup bpe packer model
LIB_SRC = $(wildcard lib/*.c)
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A   = $(BUILD)/libgptkit.a

# Debian packages, checked with dpkg-query and installed only when missing.
DEB_PKGS = build-essential pkg-config zlib1g-dev libxxhash-dev libpcre2-dev libopenblas-dev \
           libopenmpi-dev openmpi-bin libjansson-dev libutf8proc-dev gnuplot-nox parallel python3-numpy \
           python3-torch fasttext liblinear-tools sentencepiece \
           bible-kjv jargon-text dict-devil fortunes
# Node.js and npm (for the corpora and the benchmark peers) count as present when
# the commands exist: some machines carry a newer Node than Debian's, with its own npm.

.PHONY: all deps test asan demo bench corpora corpora-big clean
.DEFAULT_GOAL := all

all: $(PROGS:%=$(BINDIR)/%)

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root (apt-get needs it)" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@$(MAKE) --no-print-directory corpora/node_modules/.installed node_modules/.installed

# npm ci deletes node_modules first: two at once (parallel makes) break it, so
# take a lock and look again once holding it.
corpora/node_modules/.installed: corpora/package.json corpora/package-lock.json
	cd corpora && flock .npm.lock sh -c '[ node_modules/.installed -nt package-lock.json ] || \
	  { npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; }'


# The peers that tests and benchmarks check against (package.json at the top).
node_modules/.installed: package.json package-lock.json
	flock .npm.lock sh -c '[ node_modules/.installed -nt package-lock.json ] || \
	  { npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; }'

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# Each program: its folder's .c files (main.c among them) and the library.
define PROG_RULE
$(BINDIR)/$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c)) $(LIB_A)
	@mkdir -p $(BINDIR)
	$(CC) $(CFLAGS) $$^ -o $$@ $(LDLIBS)
endef
$(foreach p,$(PROGS),$(eval $(call PROG_RULE,$(p))))

# Tests: tests/<dir>/test_*.c link the library (and the program's own objects,
# all but its main.c); tests/<dir>/test_*.sh drive the binaries.
TEST_C   = $(wildcard tests/*/test_*.c)
TEST_BIN = $(TEST_C:%.c=$(BUILD)/%)
prog_objs = $(if $(filter $(1),$(PROGS)),$(patsubst %.c,$(BUILD)/%.o,$(filter-out $(1)/main.c,$(wildcard $(1)/*.c))))

# A test depends on its own program's objects only (secondary expansion: $$*
# is the stem, e.g. "packer/test_packer").
.SECONDEXPANSION:
$(BUILD)/tests/%: tests/%.c $(LIB_A) $$(call prog_objs,$$(firstword $$(subst /, ,$$*))) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests $< $(call prog_objs,$(firstword $(subst /, ,$*))) $(LIB_A) -o $@ $(LDLIBS) -ljansson

test: all $(TEST_BIN) corpora
	@BIN=$(abspath $(BINDIR)) BUILD=$(abspath $(BUILD)) bash tests/run.sh

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan BINDIR=build/asan/bin OPT=-O1 \
	  CFLAGS='-O1 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -pthread $(SAN_FLAGS)' \
	  LDLIBS='$(LDLIBS) $(SAN_FLAGS)' test

corpora: corpora/en.jsonl.gz corpora/eval.jsonl.gz corpora/quality-train.jsonl.gz \
         corpora/arpabet.jsonl.gz

corpora/en.jsonl.gz: corpora/build.sh corpora/build.js | deps
	bash corpora/build.sh corpora

# Held-out passages of the corpus: the evaluation set dedup decontam is tested on.
corpora/eval.jsonl.gz: corpora/en.jsonl.gz corpora/build-eval.sh
	bash corpora/build-eval.sh corpora/en.jsonl.gz $@

# The labelled quality sample (good vs bad documents) filter's classifier learns from.
corpora/quality-test.jsonl.gz: corpora/quality-train.jsonl.gz
corpora/quality-train.jsonl.gz: corpora/build-quality.js corpora/build.js corpora/en.jsonl.gz
	LC_ALL=C TZ=UTC node corpora/build-quality.js corpora

# The corpus in ARPAbet (CMU Pronouncing Dictionary), the custom alphabet bpe --classes is tested on.
corpora/arpabet.jsonl.gz: corpora/en.jsonl.gz corpora/build-arpabet.js | deps
	node corpora/build-arpabet.js corpora/en.jsonl.gz $@

corpora-big: corpora/en-big.jsonl.gz

corpora/en-big.jsonl.gz: corpora/en.jsonl.gz
	bash corpora/build.sh --big corpora

demo: all corpora
	@bash scripts/demo.sh

BENCH_C   = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_C:%.c=$(BUILD)/%)
$(BUILD)/bench/%: bench/%.c $(LIB_A) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -O3 $< $(LIB_A) -o $@ $(LDLIBS) -ljansson

bench: all $(BENCH_BIN) corpora
	@BIN=$(abspath $(BINDIR)) BUILD=$(abspath $(BUILD)) bash bench/run.sh

clean:
	rm -rf build bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
