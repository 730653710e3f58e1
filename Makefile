# walguard: `make` builds ./libwalguard.so, `make test` runs every test.
SHELL := /bin/bash
LIB := libwalguard.so
CARGO ?= cargo

.PHONY: all build test test-core test-sql test-host test-python memcheck deps deps-test clean

all: build

deps:
	@scripts/ensure-deps.sh build

deps-test:
	@scripts/ensure-deps.sh test

build: deps
	$(CARGO) build --release -p walguard
	cp target/release/$(LIB) $(LIB)

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

# valgrind memcheck over the shell scripts and the Rust host tests (about a minute).
memcheck: build deps-test
	scripts/memcheck.sh

clean:
	$(CARGO) clean
	rm -f $(LIB)
