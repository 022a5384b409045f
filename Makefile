# ags: make test runs everything CI runs; make demo starts a local sign-in to try.
SHELL := /bin/bash
GO ?= go
YAEGI_VERSION := v0.16.1
GOBIN := $(shell $(GO) env GOPATH)/bin
YAEGI := $(GOBIN)/yaegi
GOFILES = $(shell git ls-files '*.go' 2>/dev/null; git ls-files --others --exclude-standard '*.go' 2>/dev/null)

.PHONY: help test test-total unit fmt-check vet race yaegi-test e2e e2e-deps fetch test-build tools browser demo bench bench-sweep bench-callgrind bench-steps bench-floor bench-smoke fuzz

# Each go test run appends its counts here (e2e/cmd/testsummary); make test prints
# the sum at the end. One file per working tree: several may run tests at once.
COUNTS := $(or $(TMPDIR),/tmp)/ags-test-counts-$(shell printf %s "$(CURDIR)" | cksum | cut -d' ' -f1)
# V=1: every test's output and every stage's output as it comes.
V ?= 0
SUMMARY = (cd e2e && $(GO) run ./cmd/testsummary -v=$(V) -counts $(COUNTS) -name $(1))
# STAGE runs `make $(2)` as stage $(1) of make test: its output goes to
# $(COUNTS)-$(1).log, and only a line of counts and wall time is printed, or, when it
# fails, the end of its output (the failing tests' and the log tails of what they ran).
TESTSUMMARY := $(COUNTS)-testsummary
STAGE = $(TESTSUMMARY) -counts $(COUNTS) -v=$(V) -stage $(1) -- $(MAKE) --no-print-directory $(2)

## help: each target with the first line of what it does.
help:
	@awk '/^## [a-z0-9-]+:/ { sub(/^## /, ""); name = $$0; sub(/:.*/, "", name); \
		printf "  %-16s %s\n", name, substr($$0, length(name) + 3) }' $(MAKEFILE_LIST)

## test: formatting, vet, unit tests (race), the same tests under Yaegi, then the
## end-to-end tests through a real Traefik, a real provider, a real browser, a real
## Kubernetes API and a real Docker daemon, and the benchmark harness once on a tiny
## load so that it cannot rot. Quiet: a line per stage (counts, wall time), the end of
## a failing stage's output, and last the total, "N passed, N failed, N skipped".
## make test V=1 prints everything. Stops at the first stage that fails. Stages run
## two at a time where the two cores allow it: what waits on the network (make fetch:
## apt-get, module downloads, npm ci) beside the unit stages, the unit tests (-race,
## one core) beside the Yaegi run (one core), the compiling of the end-to-end and
## benchmark tests (test-build) beside the tools builds, and the benchmark smoke
## beside the end-to-end tests; the tools stage waits for fetch.
test:
	@$(call RUN_STAGES,$(call BACKGROUND,fetch,fetch) && $(UNIT_STAGES) && $(call AWAIT,fetch) && \
		$(call BACKGROUND,test-build,test-build) && $(call STAGE,tools,e2e-deps tools) && $(call AWAIT,test-build) && \
		$(call BACKGROUND,bench-smoke,bench-smoke) && $(call STAGE,e2e,e2e) && $(call AWAIT,bench-smoke))

UNIT_STAGES = $(call BACKGROUND,yaegi,yaegi-test) && $(call STAGE,unit,fmt-check race vet) && $(call AWAIT,yaegi)
# RUN_STAGES marks the beginning (the total's wall time runs from it), runs the
# stages $(1) (joined by &&: the first failure stops them), waits for the background
# stages still running (after a failure before their AWAIT) and prints their lines,
# then prints the total; its status is the failed stage's.
RUN_STAGES = rm -f $(COUNTS) $(COUNTS)-*.log $(COUNTS)-*.line; (cd e2e && $(GO) build -o $(TESTSUMMARY) ./cmd/testsummary) && \
	$(TESTSUMMARY) -begin -counts $(COUNTS) && \
	{ $(1); status=$$?; wait; cat $(COUNTS)-*.line 2>/dev/null; $(TESTSUMMARY) -total -counts $(COUNTS); exit $$status; }
# BACKGROUND starts `make $(2)` as stage $(1) beside the stages after it: its line
# waits in $(COUNTS)-$(1).line for AWAIT, which waits for it, prints that line and
# how long the wait took ($(1)-wait), and fails as it failed. With V=1 the
# background stage's output comes with its line, at AWAIT.
BACKGROUND = { $(TESTSUMMARY) -counts $(COUNTS) -v=$(V) -stage $(1) -background -- \
	$(MAKE) --no-print-directory $(2) >$(COUNTS)-$(1).line 2>&1 & bg_$(subst -,_,$(1))=$$!; }
AWAIT = { waited=$$SECONDS; wait $$bg_$(subst -,_,$(1)); bg_status=$$?; waited=$$((SECONDS - waited)); \
	cat $(COUNTS)-$(1).line; rm -f $(COUNTS)-$(1).line; \
	printf '%-12s %s\n' $(1)-wait "$${waited}s after the stages before it"; [ $$bg_status = 0 ]; }

## test-total: the last line of the last make test, "N passed, N failed, N skipped"
## (.ci/run prints it again after make's own error line).
test-total:
	@$(TESTSUMMARY) -total -counts $(COUNTS) | tail -n 1

## unit: formatting, vet, the unit tests with -race, and the same under Yaegi, as
## make test runs them (quiet; V=1 prints everything).
unit:
	@$(call RUN_STAGES,$(UNIT_STAGES))

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	cd e2e && $(GO) vet ./...
	cd bench && $(GO) vet ./...

race:
	set -o pipefail; $(GO) test -race -count=1 -json ./... | $(call SUMMARY,unit)

$(YAEGI):
	$(GO) install github.com/traefik/yaegi/cmd/yaegi@$(YAEGI_VERSION)

## yaegi-test: the unit tests inside Traefik's interpreter.
yaegi-test: $(YAEGI)
	@$(GO) version -m $(YAEGI) | grep -q 'yaegi	$(YAEGI_VERSION)' || $(GO) install github.com/traefik/yaegi/cmd/yaegi@$(YAEGI_VERSION)
	set -o pipefail; $(YAEGI) test -v . 2>&1 | $(GO) tool test2json -p 'yaegi test .' | $(call SUMMARY,yaegi)

## tools: the programs the end-to-end tests run, each built once into Go's build cache
## by tools/NAME/build.sh, before the tests and not inside their timeout. A fresh
## machine builds them in about 17 minutes on 2 cores (README, "Two commands");
## later runs take a second. One more: add its folder's name to TOOLS. oidc-provider
## is Node packages, not a build: tools/oidc-provider/install.sh (npm ci, seconds).
## One build after another: at the same time (make -j) they took 17m43s from an empty
## cache, against 16m47s one after another, since each compiled the modules they
## share instead of finding them in the build cache (issue 29).
TOOLS := traefik hydra kube-apiserver oidc-provider
tools: $(addprefix tool-,$(TOOLS))
tool-oidc-provider:
	@sh tools/oidc-provider/install.sh >/dev/null
tool-%:
	@sh tools/$*/build.sh >/dev/null

## test-build: compiles the packages of the end-to-end and benchmark tests, their test
## variants included (go list -export: no link, nothing run), and the app's static
## build that TestDockerLabels makes, into Go's build cache. make test runs it beside
## the tools builds, which leave a core idle while they link or compile Hydra's SQLite
## in C; on a first run the e2e stage took 3m53s to 4m03s, 2 minutes more than later.
test-build:
	@(cd e2e && $(GO) list -deps -test -export ./... >/dev/null && \
		CGO_ENABLED=0 $(GO) build -trimpath -o /dev/null ./cmd/app) && \
		(cd bench && $(GO) list -deps -test -export ./... >/dev/null)

## fetch: what the later stages of make test wait on the network for, fetched at once
## so that make test runs it beside its unit stages: Debian's packages (e2e-deps, then
## wrk: one apt-get at a time), the Go modules of e2e/ and bench/, the modules
## of each tool's build (TOOL_FETCH=1 tools/NAME/build.sh: go list -deps of the build),
## yaegi's module (the yaegi stage builds it) and panva's oidc-provider (npm ci).
## Seconds once all is there.
fetch:
	@pids=""; \
	( $(MAKE) --no-print-directory e2e-deps && $(WRK_INSTALL) ) & pids="$$pids $$!"; \
	(cd e2e && $(GO) list -deps -test ./... >/dev/null) & pids="$$pids $$!"; \
	(cd bench && $(GO) list -deps -test ./... >/dev/null) & pids="$$pids $$!"; \
	$(GO) mod download github.com/traefik/yaegi@$(YAEGI_VERSION) & pids="$$pids $$!"; \
	for t in $(filter-out oidc-provider,$(TOOLS)); do TOOL_FETCH=1 sh tools/$$t/build.sh >/dev/null & pids="$$pids $$!"; done; \
	sh tools/oidc-provider/install.sh >/dev/null & pids="$$pids $$!"; \
	status=0; for p in $$pids; do wait $$p || status=1; done; exit $$status

## e2e-deps: Debian's chromium, etcd-server, docker.io, redis-server and jq for the
## end-to-end tests, installed when missing (apt-get, as root; README, "Without root").
E2E_PACKAGES := chromium:chromium etcd:etcd-server dockerd:docker.io gcc:gcc redis-server:redis-server jq:jq
e2e-deps:
	@missing=""; for p in $(E2E_PACKAGES); do command -v $${p%%:*} >/dev/null || missing="$$missing $${p#*:}"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "e2e: missing$$missing; as root: apt-get install -y$$missing (README, \"Without root\")"; exit 1; fi; \
		echo "e2e: installing$$missing (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# browser: kept for scripts that call it; e2e-deps installs Chromium too.
browser: e2e-deps

## e2e: real Traefik v3.6.12 (with the file, Docker and Kubernetes providers), the
## zitadel/oidc example provider, Ory Hydra v2.3.0 (cgo for its SQLite: gcc), panva's
## oidc-provider (Node.js 20.18 or later, npm),
## headless Chromium, kube-apiserver v1.34.4 with etcd, and dockerd. The programs are built first (make tools); the timeout is the tests'.
## The tests run beside each other (t.Parallel), E2E_PARALLEL at a time: most of a
## test is waiting on processes, so 4 keep both cores busy (e2e/README.md).
E2E_PARALLEL ?= 4
e2e: e2e-deps tools
	set -o pipefail; (cd e2e && $(GO) test -count=1 -timeout 30m -parallel $(E2E_PARALLEL) -json ./...) | $(call SUMMARY,e2e)

## demo: the OpenID provider with a demo user, an app and Traefik v3.6.12 with ags from
## this working tree, on 127.0.0.1; prints the address, user and password; Ctrl-C
## stops it. The first run builds Traefik into Go's build cache (minutes); later runs
## start in seconds. Ports: make demo DEMO_PORT=8090 DEMO_PROVIDER_PORT=8091.
DEMO_PORT ?= 8080
DEMO_PROVIDER_PORT ?= 8081
DEMO_APP_PORT ?= 0
demo: tool-traefik
	@echo "ags demo: compiling the demo (a minute the first time)"
	@cd e2e && $(GO) build -o "$$($(GO) env GOCACHE)/ags-demo/demo" ./cmd/demo
	@cd e2e && exec "$$($(GO) env GOCACHE)/ags-demo/demo" -port $(DEMO_PORT) -provider-port $(DEMO_PROVIDER_PORT) -app-port $(DEMO_APP_PORT)

## bench: what ags costs inside a real Traefik v3.6.12 (bench/README.md): bare, an
## empty Yaegi plugin, ags open, signed in, 5,000 users in turn, app cookie churn, a
## known bearer token and 5,000 tokens in turn (issue 27);
## Traefik's CPU per request, req/s, p50, p99, RSS over 200,000 signed-in requests and
## over the many-sessions runs; the many-sessions route under a configuration reload
## every second, after a flood of 200,000 forged cookies, and after 200,000 requests of
## one session with a new invented cookie each (issue 23). About 12 to 13 minutes (the
## reloads and the floods add 3 to 4). BENCH_FLAGS adds flags (they win), e.g.
## make bench BENCH_FLAGS='-out bench/result.md'; AGS_PLUGIN_DIR=/other/checkout
## measures another plugin tree.
WRK_INSTALL = command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
bench:
	@$(WRK_INSTALL)
	cd bench && $(GO) run ./traefikbench -reload 1s -flood 200000 -session-flood 200000 $(BENCH_FLAGS)

## bench-sweep: Traefik's CPU per signed-in request above bare against the number of
## users in turn (SWEEP), as a table and a plot (SWEEP_SVG); about 5 to 6 minutes, the
## 30,000 sign-ins included. BENCH_FLAGS adds flags, e.g. '-out bench/sweep.md'.
SWEEP ?= 1,100,1000,3000,10000,30000
SWEEP_SVG ?= sweep.svg
bench-sweep:
	@$(WRK_INSTALL)
	cd bench && $(GO) run ./traefikbench -sweep-only -sweep $(SWEEP) -rounds 3 -duration 3s -svg $(SWEEP_SVG) $(BENCH_FLAGS)

## bench-callgrind: instructions per request on the hot path (a hit, an open path, a
## cache miss, a new session, a known and a new bearer token, a hit with
## sessionIdleTimeout and with revocation on), counted by valgrind
## (bench/callgrind/run.sh): repeatable on a busy machine. 24 minutes at a load
## average of 15; GOGC=off counts without the collector, ROWS='bearer' picks groups of
## rows (run.sh says which).
VALGRIND_INSTALL = command -v valgrind >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
bench-callgrind:
	@$(VALGRIND_INSTALL)
	bench/callgrind/run.sh

## bench-steps: instructions of each step of a cache miss under Yaegi, counted by
## valgrind over the unit benchmarks (bench/callgrind/steps.sh). About ten minutes.
bench-steps: $(YAEGI)
	@$(VALGRIND_INSTALL)
	bench/callgrind/steps.sh

## bench-floor: a cache miss under Yaegi against the least a miss must do
## (floor_bench_test.go), counted as bench-steps counts. About six minutes.
bench-floor: $(YAEGI)
	@$(VALGRIND_INSTALL)
	bench/callgrind/steps.sh BenchmarkMissFloorKnownSession BenchmarkMissKnownSession \
		BenchmarkMissSealOnly BenchmarkMissFloorNewSession BenchmarkMissNewSession

## bench-smoke: the same harness on a tiny load (the many-sessions route with 20 users
## and the many-tokens route with 20 tokens, under a reload every 200 ms for 4 s
## (make test runs it beside the end-to-end tests, where Traefik took over a second
## to apply a reload and none landed in a 1 s run), after a flood of 200 forged
## cookies and after 200 requests of one session with invented cookies, a sweep of 2
## and 20, its plot),
## and the in-process hot path once, to catch breakage (no timing checks).
bench-smoke: tool-traefik
	@$(WRK_INSTALL)
	set -o pipefail; (cd bench && $(GO) vet ./traefikbench ./sessions && $(GO) test -count=1 -json ./traefikbench ./sessions) | $(call SUMMARY,bench)
	cd bench && $(GO) run ./traefikbench -rounds 1 -duration 1s -warmup 0s -c1-rounds 1 -rss-requests 2000 \
		-sessions 20 -reload 200ms -reload-duration 4s -flood 200 -session-flood 200 -sweep 2,20 -svg $(COUNTS)-sweep.svg >/dev/null && rm $(COUNTS)-sweep.svg
	cd bench && $(GO) run ./hotpath -n 200 -rounds 1 >/dev/null && $(GO) run ./hotpath -only 'ags signed in, yaegi' -n 200 \
		&& $(GO) run ./hotpath -only 'ags new session, yaegi' -n 20 && $(GO) run ./hotpath -only 'ags bearer token miss, yaegi' -n 20

## fuzz: every fuzz target (each func Fuzz* of the tests) for FUZZTIME, one after
## the other; a failing input lands in testdata/fuzz, which `make test` replays.
FUZZTIME ?= 5m
fuzz:
	@failed=""; for target in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' *_test.go | cut -c6- | sort); do \
		echo "== $$target for $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=3s . || failed="$$failed $$target"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi
