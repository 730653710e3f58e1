# walguard: `make` builds ./libwalguard.so, `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
LIB := libwalguard.so
CARGO ?= cargo
# The host tests' bundled SQLite gets sqlite_dbpage, to write raw pages into a WAL the way a
# tool without walguard can (the extension itself never compiles SQLite).
export LIBSQLITE3_FLAGS := -DSQLITE_ENABLE_DBPAGE_VTAB

.PHONY: all build check lint test test-core test-sql test-host test-python test-loading test-versions clients-run test-clients test-stress test-dist test-deploy test-hold test-log dist install uninstall memcheck miri bench bench-hold sqlite-suite stress stress-hold soak deps deps-test clean release test-release docs-clients mutations

all: build

deps:
	@scripts/ensure-deps.sh build

deps-test:
	@scripts/ensure-deps.sh test

build: deps
	$(CARGO) build --release -p walguard -p walguard-preload
	install -m 755 target/release/$(LIB) $(LIB)
	install -m 755 target/release/libwalguard_preload.so libwalguard_preload.so
	@# Its own invocation: walguard-hold's libsqlite3-sys features (system library, through
	@# rusqlite) must not be unified with the extension's `loadable_extension`.
	$(CARGO) build --release -p walguard-hold
	install -m 755 target/release/walguard-hold walguard-hold

# Each suite prints its own count; the summary at the end says which suites passed.
test: build deps-test
	@scripts/run-tests.sh

test-core: deps
	$(CARGO) test -p walguard-core
	$(CARGO) test -p walguard --lib

# The development loop: core, SQL and host tests (about a minute once built).
check: test-core test-sql test-host

# Lint gates, run by CI: clippy with warnings as errors (each member on its own, as the
# features require) and rustfmt against rustfmt.toml.
lint:
	$(CARGO) clippy -q -p walguard -p walguard-core -p walguard-preload --all-targets -- -D warnings
	$(CARGO) clippy -q -p walguard-host-tests --all-targets -- -D warnings
	$(CARGO) clippy -q -p walguard-hold --all-targets -- -D warnings
	$(CARGO) fmt --all --check

test-sql: build deps-test
	sql-tests/run.sh $(CURDIR)/$(LIB)

test-host: build
	WALGUARD_LIB=$(CURDIR)/$(LIB) $(CARGO) test -p walguard-host-tests

test-python: build deps-test
	/usr/bin/python3 -m unittest discover -s tests/python -v

# Loading into hand-made hosts: a too-old SQLite, a second SQLite library in the process;
# SQLite's WAL-reset race forced on the system SQLite, without and with the mitigation; a
# shim with PROJ's pattern (it swaps pMethods) above walguard and below it; two copies of the
# library from different paths.
test-loading: build
	mkdir -p build
	@# The library is what it says it is: its soname, and exactly its two entry points exported.
	test "$$(readelf -d $(LIB) | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')" = libwalguard.so
	test "$$(nm -D --defined-only $(LIB) | awk '{print $$3}' | sort | paste -sd' ')" = "sqlite3_walguard_auto_init sqlite3_walguard_init"
	gcc -Wall -O1 -o build/loading tests/c/loading.c -lsqlite3 -ldl
	build/loading $(CURDIR)/$(LIB)
	gcc -Wall -O1 -o build/walreset tests/c/walreset.c -lsqlite3
	d=$$(mktemp -d) && WALGUARD_WAL_RESET_FIX=off build/walreset $(CURDIR)/$(LIB) $$d corrupts && \
	  build/walreset $(CURDIR)/$(LIB) $$d intact && rm -rf $$d
	gcc -Wall -O1 -o build/shims tests/c/shims.c -lsqlite3
	d=$$(mktemp -d) && build/shims $(CURDIR)/$(LIB) $$d above && build/shims $(CURDIR)/$(LIB) $$d below && \
	  build/shims $(CURDIR)/$(LIB) $$d namecopy && rm -rf $$d
	gcc -Wall -O1 -o build/adopted tests/c/adopted.c -lsqlite3
	d=$$(mktemp -d) && build/adopted $(CURDIR)/$(LIB) $$d && rm -rf $$d
	gcc -Wall -O1 -o build/twocopies tests/c/twocopies.c -lsqlite3
	d=$$(mktemp -d) && build/twocopies $(CURDIR)/$(LIB) $$d && rm -rf $$d

# walguard in hosts built from older SQLite amalgamations (the floor 3.31.1, then 3.34.0 and
# 3.37.0, fetched once by scripts/old-sqlite.sh) and in the system library: adoption at the
# load, both layers, a checkpoint, a poisoned WAL (also with the WAL-reset fix off, where
# hosts older than 3.32.0 still show their checkpoints), a hot journal's playback,
# walguard_status(). Then applications linked to shared libraries built from 3.31.1 and 3.37.0
# and to the system one, under the preload: every open stays the application's, and guarded.
OLD_SQLITE := 3.31.1 3.34.0 3.37.0 3.54.1
PRELOAD_SQLITE := 3.31.1 3.37.0
test-versions: build
	mkdir -p build
	for v in $(OLD_SQLITE); do src=$$(scripts/old-sqlite.sh $$v) && \
	  gcc -O0 -w -DSQLITE_ENABLE_DBPAGE_VTAB -I$$src -o build/oldhost-$$v tests/c/oldhost.c $$src/sqlite3.c -ldl -lpthread -lm && \
	  d=$$(mktemp -d) && build/oldhost-$$v $(CURDIR)/$(LIB) $$d && rm -rf $$d || exit 1; done
	d=$$(mktemp -d) && WALGUARD_WAL_RESET_FIX=off build/oldhost-3.31.1 $(CURDIR)/$(LIB) $$d && rm -rf $$d
	gcc -Wall -O1 -o build/oldhost-system tests/c/oldhost.c -lsqlite3
	d=$$(mktemp -d) && build/oldhost-system $(CURDIR)/$(LIB) $$d && rm -rf $$d
	for v in $(PRELOAD_SQLITE); do src=$$(scripts/old-sqlite.sh $$v) && mkdir -p build/libsqlite3-$$v && \
	  gcc -O0 -w -shared -fPIC -o build/libsqlite3-$$v/libsqlite3.so.0 $$src/sqlite3.c -ldl -lpthread -lm && \
	  ln -sf libsqlite3.so.0 build/libsqlite3-$$v/libsqlite3.so && \
	  gcc -Wall -O1 -I$$src -o build/preloadhost-$$v tests/c/preloadhost.c -Lbuild/libsqlite3-$$v -lsqlite3 && \
	  d=$$(mktemp -d) && LD_LIBRARY_PATH=build/libsqlite3-$$v LD_PRELOAD=$(CURDIR)/libwalguard_preload.so WALGUARD_LIB=$(CURDIR)/$(LIB) \
	    build/preloadhost-$$v $$d && rm -rf $$d || exit 1; done
	gcc -Wall -O1 -o build/preloadhost-system tests/c/preloadhost.c -lsqlite3
	d=$$(mktemp -d) && LD_PRELOAD=$(CURDIR)/libwalguard_preload.so WALGUARD_LIB=$(CURDIR)/$(LIB) build/preloadhost-system $$d && rm -rf $$d

# walguard's own log destination (WALGUARD_LOG) through the sqlite3 shell: a file, stderr,
# a syslog socket, the rate limit against a loop of refusals, the fallbacks to stderr.
test-log: build deps-test
	tests/log/test.sh $(CURDIR)/$(LIB)

# The seed story, short: processes killed and restarted at random, with and without walguard;
# then the application of issue 28 (falls back to DELETE on a transient disk I/O error) without
# walguard, under enforce and under keep.
test-stress: build deps-test
	/usr/bin/python3 tests/stress/run.py 3
	/usr/bin/python3 tests/stress/run.py 2 --app

# Install for a whole host: the extension (also as walguard.so, for `.load walguard`), the
# LD_PRELOAD library, Python's sitecustomize, PHP's auto_prepend_file, the walguard-hold binary and its systemd
# template unit (pointing at the installed binary). Honours PREFIX and DESTDIR.
PREFIX ?= /usr/local
UNITDIR ?= $(PREFIX)/lib/systemd/system
HOLD_UNIT = walguard-hold@.service
INSTALLED = $(DESTDIR)$(PREFIX)/lib/libwalguard.so $(DESTDIR)$(PREFIX)/lib/walguard.so \
	$(DESTDIR)$(PREFIX)/lib/libwalguard_preload.so $(DESTDIR)$(PREFIX)/share/walguard/python/sitecustomize.py \
	$(DESTDIR)$(PREFIX)/share/walguard/php/walguard.php \
	$(DESTDIR)$(PREFIX)/bin/walguard-hold $(DESTDIR)$(UNITDIR)/$(HOLD_UNIT)
install: build
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/share/walguard/python $(DESTDIR)$(PREFIX)/share/walguard/php \
	  $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR)
	install -m 755 $(LIB) libwalguard_preload.so $(DESTDIR)$(PREFIX)/lib/
	ln -sf libwalguard.so $(DESTDIR)$(PREFIX)/lib/walguard.so
	install -m 644 packages/sitecustomize/sitecustomize.py $(DESTDIR)$(PREFIX)/share/walguard/python/
	install -m 644 packages/php/walguard.php $(DESTDIR)$(PREFIX)/share/walguard/php/
	install -m 755 walguard-hold $(DESTDIR)$(PREFIX)/bin/
	sed 's|@BINDIR@|$(PREFIX)/bin|g' hold/deploy/$(HOLD_UNIT) > $(DESTDIR)$(UNITDIR)/$(HOLD_UNIT).tmp
	chmod 644 $(DESTDIR)$(UNITDIR)/$(HOLD_UNIT).tmp && mv -f $(DESTDIR)$(UNITDIR)/$(HOLD_UNIT).tmp $(DESTDIR)$(UNITDIR)/$(HOLD_UNIT)
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

uninstall:
	rm -f $(INSTALLED)
	-rmdir $(DESTDIR)$(PREFIX)/share/walguard/python $(DESTDIR)$(PREFIX)/share/walguard/php $(DESTDIR)$(PREFIX)/share/walguard 2>/dev/null

# Deployment tests: make install, LD_PRELOAD, sitecustomize, node --require, PHP's auto_prepend_file.
test-deploy: build deps-test
	scripts/ensure-clients.sh
	tests/deploy/test.sh

# The Python wheel (sqlite-walguard, import walguard) and the npm package (sqlite-walguard),
# both from the release library, into dist/.
dist: build
	scripts/dist.sh

# Install what `make dist` built into fresh environments and prove the guard there.
test-dist: dist deps-test
	scripts/ensure-clients.sh
	tests/packages/test-dist.sh

# The release (issue 25): archives, wheels, the npm package and .debs for x86_64 and aarch64
# Linux, linked against glibc 2.17 by zig through cargo-zigbuild (installed into .deps/release
# when missing), with SHA256SUMS, into release/. 11 min from a clean clone on 2 busy cores,
# about 1 once built.
release: deps
	scripts/release.sh

# Every release artifact checked as a user gets it: glibc floor, the aarch64 binaries under
# qemu-user with Debian's arm64 sqlite3 and python3, the wheels and the npm package installed
# from the files, the amd64 .deb installed and removed (see tests/release/test.sh). About 1 min.
test-release: release deps-test
	scripts/ensure-clients.sh
	tests/release/test.sh

# walguard-hold against clients that never load walguard: every rollback mode refused,
# checkpoints, exclusive locking, SIGKILL, replaced files, --ensure-wal, the unit file, and
# the seed story with half the workers unguarded (3 s, and its control without the holder);
# stderr gone, FIFOs, misspelled paths, directories, and `walguard-hold status` against real
# processes and on tmpfs and FUSE (bindfs) mounts (docs/operator.md).
test-hold: build deps-test
	scripts/ensure-clients.sh
	scripts/ensure-deps.sh fuse
	$(CARGO) test -q -p walguard-hold
	/usr/bin/python3 tests/hold/test_hold.py
	/usr/bin/python3 tests/stress/run.py 3 --hold

# Commit latency and open/close cost with and without a holder, and the holder's memory.
bench-hold: build deps-test
	/usr/bin/python3 tests/hold/bench_hold.py

# The docs' client snippets (docs/*.md, and the README's first refusal), run by each client,
# and the pages kept equal to the files run and what they print (scripts/docs-clients.py).
# `docs-clients` runs the clients without the check, then rewrites the pages' generated blocks.
clients-run: build deps-test
	scripts/ensure-clients.sh
	$(CARGO) build -q -p walguard-host-tests --examples
	mkdir -p build
	tests/clients/run.sh | tee build/clients.out

test-clients: clients-run
	scripts/docs-clients.py --check build/clients.out

docs-clients: clients-run
	scripts/docs-clients.py --write build/clients.out

# valgrind memcheck over the shell scripts and the Rust host tests (about a minute).
memcheck: build deps-test
	scripts/memcheck.sh

# The pure parts under Miri (nightly, installed when missing): walguard-core's unit, property
# and model tests with MIRI_CASES cases each, and the extension's unit tests, which run its
# files and VFS methods over a stand-in host and an in-memory lower VFS (src/testing.rs), in
# memory laid out as SQLite allocates it. The isolation is off so that proptest reads its
# regression files and the PROPTEST_ variables; XorShift, because ChaCha costs seconds a case
# under Miri; the symbolic alignment check holds memory to the alignment it was allocated with
# (SQLite promises 8), not to whatever its address happens to be; permissive provenance, said
# aloud: libsqlite3-sys keeps the host's functions as addresses, walguard's registries too.
# Pinned: a nightly known to carry miri and to pass (an unpinned one may lack the component).
MIRI_TOOLCHAIN ?= nightly-2026-10-30
MIRI_CASES ?= 16
MIRI_ENV = PROPTEST_CASES=$(MIRI_CASES) PROPTEST_RNG_ALGORITHM=xs \
	MIRIFLAGS="-Zmiri-disable-isolation -Zmiri-symbolic-alignment-check -Zmiri-permissive-provenance $(MIRIFLAGS)"
# Each rule of the shell broken once (scripts/mutations.py): every mutation must fail a unit
# test. About 1 minute once built.
mutations: deps
	/usr/bin/python3 scripts/mutations.py

miri: deps
	@MIRI_TOOLCHAIN=$(MIRI_TOOLCHAIN) scripts/ensure-deps.sh miri
	$(MIRI_ENV) $(CARGO) +$(MIRI_TOOLCHAIN) miri test -p walguard-core
	$(MIRI_ENV) $(CARGO) +$(MIRI_TOOLCHAIN) miri test -p walguard --lib

# Bare default VFS against walguard, instructions (callgrind) and wall time (a few minutes).
bench: build
	scripts/ensure-deps.sh valgrind
	mkdir -p build
	/usr/bin/python3 bench/run.py build "$$(scripts/sqlite-source.sh)/test/speedtest1.c" | tee build/bench-last.txt

# SQLite's own TCL tests: the veryquick set (as test/permutations.test defines it) and the WAL,
# journal, locking and I/O-fault files it leaves out, one testfixture per file, each with and
# without walguard, on every core; walguard-only failures must be in
# tests/sqlite-suite/expected-failures.txt. Logs in build/sqlite-suite. About 11 minutes on 2 cores.
# SUITE_ARGS passes options to run.py, e.g. SUITE_ARGS="--timeout 2400" on a loaded machine
# (walcrash3.test starts 10,000 crash children: 150 s on a quiet machine, over 900 s at load 12).
sqlite-suite: build
	/usr/bin/python3 tests/sqlite-suite/run.py $(SUITE_ARGS) "$$(scripts/build-testfixture.sh)" "$$(scripts/sqlite-source.sh)/test"

# Other projects' own test suites from their pinned sdists (sqlite-utils, SQLAlchemy's SQLite
# tests, as they are and with every file in WAL, diskcache), plain and with walguard in every
# process (sitecustomize, then LD_PRELOAD), compared test by test: differences must be in
# tests/peers/expected-differences.txt. Not part of `make test`. The suites run side by side, one
# per core (each pytest run is one process): 9.5 min on 2 cores, 17 min one at a time
# (PEERS="--jobs 1"), 1.5 more the first time (the installs).
# PEERS="--suite NAME --mode MODE" narrows it. Logs in build/peers.
.PHONY: peers
peers: build
	tests/peers/ensure.sh
	/usr/bin/python3 tests/peers/run.py $(CURDIR) $(PEERS)

# The long stress run (STRESS_SECONDS, 60 by default, for each of the guarded and control
# runs; for each of the three runs of the fallback application, --app) and the full fault
# matrix, persistent SQLITE_BUSY included. First, the WAL-reset race
# between processes (two writers, a checkpointer with the window widened): it must corrupt
# without the mitigation (10 s) and not with it (STRESS_SECONDS).
STRESS_SECONDS ?= 60
stress: build deps-test
	gcc -Wall -O1 -o build/walreset tests/c/walreset.c -lsqlite3
	d=$$(mktemp -d) && WALGUARD_WAL_RESET_FIX=off build/walreset $(CURDIR)/$(LIB) $$d corrupts stress 10 && \
	  build/walreset $(CURDIR)/$(LIB) $$d intact stress $(STRESS_SECONDS) && rm -rf $$d
	/usr/bin/python3 tests/stress/run.py $(STRESS_SECONDS)
	/usr/bin/python3 tests/stress/run.py $(STRESS_SECONDS) --hold
	/usr/bin/python3 tests/stress/run.py $(STRESS_SECONDS) --app
	WALGUARD_LIB=$(CURDIR)/$(LIB) WALGUARD_FULL_FAULTS=1 $(CARGO) test -p walguard-host-tests --test faults -- --nocapture

# The soak: the seed story with SIGKILLs, two unguarded workers and walguard-hold for
# SOAK_SECONDS (an hour), sampling the RSS and open descriptors of a long-lived guarded
# worker and of the holder (no growth allowed); not in CI. Figures and samples in build/soak.
SOAK_SECONDS ?= 3600
soak: build deps-test
	mkdir -p build/soak
	/usr/bin/python3 tests/stress/soak.py $(SOAK_SECONDS) build/soak 2>&1 | tee build/soak/soak.out

clean:
	$(CARGO) clean
	rm -rf $(LIB) libwalguard_preload.so walguard-hold build dist release
