# gptkit: raw text to a trained GPT-2, as Unix filters in C.
#   make          build bin/filter bin/dedup bin/bpe bin/packer bin/model
#   make demo     the whole pipeline on the bundled corpus
#   make demo-arpabet  the same on the corpus in ARPAbet, a custom alphabet
#   make test     build and run every test; last line "N passed, N failed"
#   make asan     the tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz     each libFuzzer target (tests/fuzz/) for FUZZ_SECONDS (default 60),
#                 FUZZ_JOBS (default 1) at once, under both sanitizers, then a table;
#                 crashes go to build/fuzz/crashes/TARGET/ (tests/fuzz/README.md);
#                 make fuzz-build only builds the binaries (clang), for run.sh
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

# CUDA: when nvcc is found, the model's GPU backend (model/cuda/*.cu) is built
# too and bin/model links cuBLAS/cuBLASLt; CUDA=0 builds without it, and a
# machine without nvcc gets exactly the CPU build. CUDA_ARCH=90 (or "80 90")
# picks the architectures; by default the visible GPU's, else sm_80 and sm_90
# with PTX for newer ones. 90 is built as sm_90a, Hopper's own instructions
# (the attention's warpgroup products).
NVCC    ?= $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc))
CUDA    ?= $(if $(NVCC),1,0)
ifeq ($(CUDA),1)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_ARCH ?= $(shell nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d .)
CUDA_GENCODE = $(if $(strip $(CUDA_ARCH)),$(foreach a,$(CUDA_ARCH),-gencode arch=compute_$(a:90=90a),code=sm_$(a:90=90a)),\
               -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90a,code=sm_90a \
               -gencode arch=compute_90,code=compute_90)
NVCCFLAGS ?= -O2 -std=c++20 -lineinfo $(CUDA_GENCODE) -Xcompiler -Wall
CUDA_OBJ = $(patsubst %.cu,$(BUILD)/%.o,$(wildcard model/cuda/*.cu))
CUDA_LIBS = -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcublas -lcudart -lstdc++
# NCCL (several GPUs summing gradients: mpirun -np N model train --device
# cuda): used where nccl.h and libnccl are found beside the toolkit or in the
# system's folders (NVIDIA's libnccl-dev); NCCL=0 builds without it, and
# then GPU ranks are refused with a message.
NCCL_LIBDIR := $(patsubst %/,%,$(dir $(firstword $(wildcard $(CUDA_HOME)/lib/libnccl.so $(CUDA_HOME)/lib64/libnccl.so \
               /usr/lib/x86_64-linux-gnu/libnccl.so /usr/lib/aarch64-linux-gnu/libnccl.so))))
NCCL    ?= $(if $(and $(NCCL_LIBDIR),$(wildcard $(CUDA_HOME)/include/nccl.h /usr/include/nccl.h)),1,0)
ifeq ($(NCCL),1)
NVCCFLAGS += -DGPTKIT_NCCL
CUDA_LIBS += -L$(NCCL_LIBDIR) -Wl,-rpath,$(NCCL_LIBDIR) -lnccl
endif
endif

# MPI: model train runs as several ranks under mpirun (or srun) when the
# build finds OpenMPI (pkg-config ompi-c: Debian's libopenmpi-dev, which make
# deps installs); MPI=0 builds without it. Expanded when a recipe runs, after
# make deps.
MPI     ?= 1
MPI_CFLAGS = $(if $(filter 1,$(MPI)),$(shell pkg-config --cflags ompi-c 2>/dev/null))
MPI_LIBS = $(if $(filter 1,$(MPI)),$(shell pkg-config --libs ompi-c 2>/dev/null))

# The builds install what they need first (make deps); test-cuda builds with
# DEPS empty: a GPU machine may reach no package registry.
DEPS    ?= deps

PROGS   = filter dedup bpe packer model
LIB_SRC = $(wildcard lib/*.c)
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A   = $(BUILD)/libgptkit.a

# Debian packages, checked with dpkg-query and installed only when missing.
DEB_PKGS = build-essential pkg-config zlib1g-dev libxxhash-dev libpcre2-dev libopenblas-dev \
           libopenmpi-dev openmpi-bin libjansson-dev libutf8proc-dev gnuplot-nox parallel slurm-wlm munge python3-numpy \
           python3-torch fasttext liblinear-tools sentencepiece \
           bible-kjv jargon-text dict-devil fortunes clang libclang-rt-14-dev
# Node.js and npm (for the corpora and the benchmark peers) count as present when
# the commands exist: some machines carry a newer Node than Debian's, with its own npm.

.PHONY: all deps test test-cuda asan fuzz fuzz-build demo demo-arpabet bench corpora corpora-big clean
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

# Objects are rebuilt when CUDA or NCCL is switched on or off (it changes their flags).
CUDA_STAMP = $(BUILD)/.cuda-$(CUDA)$(if $(filter 1,$(CUDA)),-nccl$(NCCL))
$(CUDA_STAMP):
	@mkdir -p $(BUILD) && rm -f $(BUILD)/.cuda-* && touch $@

$(BUILD)/%.o: %.c $(CUDA_STAMP) | $(DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/model/dist.o: CPPFLAGS += $(if $(MPI_LIBS),-DGPTKIT_MPI $(MPI_CFLAGS))

ifeq ($(CUDA),1)
$(BUILD)/model/%.o $(BUILD)/tests/model/% $(BUILD)/bench/model/%: CPPFLAGS += -DGPTKIT_CUDA
$(BUILD)/model/cuda/%.o: model/cuda/%.cu model/cuda/common.cuh model/kernels.h lib/err.h lib/gpool.h model/poolsize.h $(CUDA_STAMP) | $(DEPS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -Ilib -c $< -o $@
endif

$(LIB_A): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# Each program: its folder's .c files (main.c among them) and the library.
# (model also links its CUDA backend when there is one, and MPI: $$(MPI_LIBS)
# is expanded when the link runs, after make deps has installed OpenMPI)
prog_cuda = $(if $(filter model,$(1)),$(CUDA_OBJ))
define PROG_RULE
$(BINDIR)/$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c)) $(call prog_cuda,$(1)) $(LIB_A)
	@mkdir -p $(BINDIR)
	$(CC) $(CFLAGS) $$^ -o $$@ $(LDLIBS) $(if $(call prog_cuda,$(1)),$(CUDA_LIBS)) $(if $(filter model,$(1)),$$(MPI_LIBS))
endef
$(foreach p,$(PROGS),$(eval $(call PROG_RULE,$(p))))

# Tests: tests/<dir>/test_*.c link the library (and the program's own objects,
# all but its main.c); tests/<dir>/test_*.sh drive the binaries.
TEST_C   = $(wildcard tests/*/test_*.c)
TEST_BIN = $(TEST_C:%.c=$(BUILD)/%)
prog_objs = $(if $(filter $(1),$(PROGS)),$(patsubst %.c,$(BUILD)/%.o,$(filter-out $(1)/main.c,$(wildcard $(1)/*.c))) $(call prog_cuda,$(1)))

# A test depends on its own program's objects only (secondary expansion: $$*
# is the stem, e.g. "packer/test_packer").
.SECONDEXPANSION:
$(BUILD)/tests/%: tests/%.c $(LIB_A) $(CUDA_STAMP) $$(call prog_objs,$$(firstword $$(subst /, ,$$*))) | $(DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests $< $(call prog_objs,$(firstword $(subst /, ,$*))) $(LIB_A) -o $@ $(LDLIBS) -ljansson \
	  $(if $(call prog_cuda,$(firstword $(subst /, ,$*))),$(CUDA_LIBS)) \
	  $(if $(filter model,$(firstword $(subst /, ,$*))),$(MPI_LIBS))

# bench/model/flash.sh's timing of the GPU attention links the model's objects, as its tests do
$(BUILD)/bench/model/flash: bench/model/flash.c $(LIB_A) $(CUDA_STAMP) $(call prog_objs,model) | $(DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $< $(call prog_objs,model) $(LIB_A) -o $@ \
	  $(LDLIBS) -ljansson $(CUDA_LIBS) $(MPI_LIBS)

# The fuzzer's driver and targets (test_fuzz.c, targets.c) are one program, which also
# reads checkpoints, data folders and filter's rules files: model's ckpt.o and
# data.o, filter's urules.o, heur.o and repeats.o, no more of either.
FUZZ_SRC = tests/fuzz/test_fuzz.c tests/fuzz/targets.c
FUZZ_OBJ = $(addprefix $(BUILD)/,model/ckpt.o model/data.o filter/urules.o filter/heur.o filter/repeats.o)
$(BUILD)/tests/fuzz/test_fuzz: $(FUZZ_SRC) tests/fuzz/fuzz.h $(FUZZ_OBJ) $(LIB_A) $(CUDA_STAMP) | $(DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests -iquote model -iquote filter $(FUZZ_SRC) $(FUZZ_OBJ) $(LIB_A) -o $@ $(LDLIBS)

test: all $(TEST_BIN) corpora
	@BIN=$(abspath $(BINDIR)) BUILD=$(abspath $(BUILD)) FUZZ_BIN=$(abspath $(FUZZ_BUILD))/bin bash tests/run.sh

# The GPU tests, on a machine with an NVIDIA GPU (make test runs them too, and
# there they say they are skipped without one): each CUDA kernel against its
# CPU twin, the model in float32 against the CPU, resume and checkpoints across
# devices. Synthetic data only: no corpus, no package install. PYTHON names
# the interpreter with numpy (and PyTorch, for the bf16 parity test).
PYTHON ?= /usr/bin/python3
test-cuda:
	@$(MAKE) --no-print-directory DEPS= $(BINDIR)/model $(BUILD)/tests/model/test_cuda $(BUILD)/tests/model/test_bf16
	@BIN=$(abspath $(BINDIR)) BUILD=$(abspath $(BUILD)) PYTHON=$(PYTHON) NO_SKIP=1 \
	  ONLY="$(BUILD)/tests/model/test_cuda $(BUILD)/tests/model/test_bf16 tests/model/test_cuda.sh tests/model/test_cuda_ranks.sh" bash tests/run.sh

# The sanitizers watch our C code; the CUDA runtime is left out of that build.
asan:
	@$(MAKE) --no-print-directory CUDA=0 BUILD=build/asan BINDIR=build/asan/bin OPT=-O1 \
	  CFLAGS='-O1 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -pthread $(SAN_FLAGS)' \
	  LDLIBS='$(LDLIBS) $(SAN_FLAGS)' test

# libFuzzer: each target of tests/fuzz/targets.c is a binary of its own,
# $(FUZZ_BUILD)/bin/fuzz_TARGET (with its dictionary, TARGET.dict, beside it),
# built by clang apart from the gcc builds: the library's objects under
# $(FUZZ_BUILD) carry the fuzzer's coverage counters and both sanitizers.
# make fuzz-build only builds them; tests/fuzz/run.sh runs them (no compiler
# needed, so another machine can run them). make test replays the committed
# corpora and crashers through test_fuzz (gcc) and through these (below).
FUZZ_BUILD   ?= build/fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
# the names of targets.c's fuzz_targets[] (test_libfuzzer.sh checks)
FUZZ_TARGETS = json docs tokjson tiktoken stream bin ckpt data rules
FUZZ_CFLAGS  = -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-sign-compare -Wno-missing-field-initializers -pthread \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_LDLIBS  = -lz -lxxhash -lpcre2-8 -lutf8proc -ljansson -lm -pthread
FUZZ_LIB_OBJ = $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(LIB_SRC) model/ckpt.c model/data.c filter/urules.c filter/heur.c filter/repeats.c \
               tests/fuzz/targets.c)
FUZZ_BINS    = $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/bin/fuzz_%)
.SECONDARY: $(FUZZ_LIB_OBJ)

$(FUZZ_BUILD)/%.o: %.c | $(DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -iquote model -iquote filter -iquote tests/fuzz $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/bin/fuzz_%: tests/fuzz/libfuzzer.c tests/fuzz/fuzz.h $(FUZZ_LIB_OBJ) | $(DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -iquote tests/fuzz $(FUZZ_CFLAGS) -fsanitize=fuzzer -DFUZZ_TARGET='"$*"' $< $(FUZZ_LIB_OBJ) \
	  -o $@ $(FUZZ_LDLIBS)
	$@ -write_dict=$(FUZZ_BUILD)/bin/$*.dict

fuzz-build: $(FUZZ_BINS)

# make test replays the committed corpora and crashers through them too
# (tests/fuzz/test_libfuzzer.sh: clang's sanitizers catch more than gcc's),
# where clang is installed (make deps installs it); elsewhere that test says
# it is skipped.
test: $(if $(shell command -v $(FUZZ_CC) 2>/dev/null),$(FUZZ_BINS))

fuzz: $(FUZZ_BINS)
	FUZZ_OUT=$(FUZZ_BUILD) bash tests/fuzz/run.sh $(FUZZ_BUILD)/bin $(FUZZ_SECONDS) $(FUZZ_JOBS)

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

# The pipeline on a custom alphabet: ARPAbet with its classes file, ending with a sample.
demo-arpabet: all corpora
	@BIN=$(BINDIR) bash scripts/demo-arpabet.sh

BENCH_C   = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_C:%.c=$(BUILD)/%)
$(BUILD)/bench/%: bench/%.c $(LIB_A) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -O3 $< $(LIB_A) -o $@ $(LDLIBS) -ljansson

# bench/model checks parity with PyTorch (test_gpt2) before it times anything
bench: all $(BENCH_BIN) $(BUILD)/tests/model/test_gpt2 corpora
	@BIN=$(abspath $(BINDIR)) BUILD=$(abspath $(BUILD)) bash bench/run.sh

clean:
	rm -rf build bin

-include $(shell find $(BUILD) $(FUZZ_BUILD) -name '*.d' 2>/dev/null | sort -u)
