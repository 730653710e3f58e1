# walguard: `make` builds ./libwalguard.so, `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
LIB := libwalguard.so
CARGO ?= cargo

.PHONY: all build test test-core test-sql test-host test-python test-loading test-clients test-stress test-dist test-deploy dist install uninstall readme memcheck bench sqlite-suite stress deps deps-test clean

all: build

deps:
	@scripts/ensure-deps.sh build

deps-test:
	@scripts/ensure-deps.sh test

build: deps
	$(CARGO) build --release -p walguard -p walguard-preload
	install -m 755 target/release/$(LIB) $(LIB)
	install -m 755 target/release/libwalguard_preload.so libwalguard_preload.so

# Each suite prints its own count; the summary at the end says which suites passed.
test: build deps-test
	@scripts/run-tests.sh

test-core:
	$(CARGO) test -p walguard-core

test-sql: build deps-test
	sql-tests/run.sh $(CURDIR)/$(LIB)

test-host: build
	WALGUARD_LIB=$(CURDIR)/$(LIB) $(CARGO) test -p walguard-host-tests

test-python: build deps-test
	/usr/bin/python3 -m unittest discover -s python-tests -v

# Loading into hand-made hosts: a too-old SQLite, a second SQLite library in the process.
test-loading: build
	mkdir -p build
	gcc -Wall -O1 -o build/loading c-tests/loading.c -lsqlite3 -ldl
	build/loading $(CURDIR)/$(LIB)

# The seed story, short: processes killed and restarted at random, with and without walguard.
test-stress: build deps-test
	/usr/bin/python3 stress/run.py 3

# Install for a whole host: the extension (also as walguard.so, for `.load walguard`), the
# LD_PRELOAD library, and Python's sitecustomize. Honours PREFIX and DESTDIR.
PREFIX ?= /usr/local
INSTALLED = $(DESTDIR)$(PREFIX)/lib/libwalguard.so $(DESTDIR)$(PREFIX)/lib/walguard.so \
	$(DESTDIR)$(PREFIX)/lib/libwalguard_preload.so $(DESTDIR)$(PREFIX)/share/walguard/python/sitecustomize.py
install: build
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/share/walguard/python
	install -m 755 $(LIB) libwalguard_preload.so $(DESTDIR)$(PREFIX)/lib/
	ln -sf libwalguard.so $(DESTDIR)$(PREFIX)/lib/walguard.so
	install -m 644 deploy/python/sitecustomize.py $(DESTDIR)$(PREFIX)/share/walguard/python/
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

uninstall:
	rm -f $(INSTALLED)
	-rmdir $(DESTDIR)$(PREFIX)/share/walguard/python $(DESTDIR)$(PREFIX)/share/walguard 2>/dev/null

# Deployment tests: make install, LD_PRELOAD, sitecustomize, node --require.
test-deploy: build deps-test
	scripts/ensure-clients.sh
	deploy/test.sh

# The Python wheel (sqlite-walguard, import walguard) and the npm package (sqlite-walguard),
# both from the release library, into dist/.
dist: build
	scripts/dist.sh

# Install what `make dist` built into fresh environments and prove the guard there.
test-dist: dist deps-test
	scripts/ensure-clients.sh
	packages/test-dist.sh

# The README's client snippets, run by each client, and the README kept equal to them.
test-clients: build deps-test
	scripts/ensure-clients.sh
	$(CARGO) build -q -p walguard-host-tests --examples
	mkdir -p build
	clients/run.sh | tee build/clients.out
	scripts/readme-clients.py --check build/clients.out

readme: test-clients
	scripts/readme-clients.py --write build/clients.out

# valgrind memcheck over the shell scripts and the Rust host tests (about a minute).
memcheck: build deps-test
	scripts/memcheck.sh

# Bare default VFS against walguard, instructions (callgrind) and wall time (a few minutes).
bench: build
	scripts/ensure-deps.sh valgrind
	/usr/bin/python3 bench/run.py build "$$(scripts/sqlite-source.sh)/test/speedtest1.c"

# SQLite's own TCL tests: the veryquick set (as test/permutations.test defines it) and the WAL,
# journal, locking and I/O-fault files it leaves out, one testfixture per file, each with and
# without walguard, on every core; walguard-only failures must be in
# sqlite-suite/expected-failures.txt. Logs in build/sqlite-suite. About 11 minutes on 2 cores.
sqlite-suite: build
	/usr/bin/python3 sqlite-suite/run.py "$$(scripts/build-testfixture.sh)" "$$(scripts/sqlite-source.sh)/test"

# The long stress run (STRESS_SECONDS, 60 by default, for each of the guarded and control
# runs) and the full fault matrix, persistent SQLITE_BUSY included.
STRESS_SECONDS ?= 60
stress: build deps-test
	/usr/bin/python3 stress/run.py $(STRESS_SECONDS)
	WALGUARD_LIB=$(CURDIR)/$(LIB) WALGUARD_FULL_FAULTS=1 $(CARGO) test -p walguard-host-tests --test faults -- --nocapture

clean:
	$(CARGO) clean
	rm -f $(LIB)
