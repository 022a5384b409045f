# ags: make test runs everything CI runs; make demo starts a local sign-in to try.
SHELL := /bin/bash
GO ?= go
YAEGI_VERSION := v0.16.1
GOBIN := $(shell $(GO) env GOPATH)/bin
YAEGI := $(GOBIN)/yaegi
GOFILES = $(shell git ls-files '*.go' 2>/dev/null; git ls-files --others --exclude-standard '*.go' 2>/dev/null)

.PHONY: test unit fmt-check vet race yaegi-test e2e browser demo bench fuzz

## test: formatting, vet, unit tests (race), the same tests under Yaegi, then the
## end-to-end tests through a real Traefik, a real provider and a real browser.
test: unit e2e

unit: fmt-check vet race yaegi-test

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	cd e2e && $(GO) vet ./...

race:
	$(GO) test -race -count=1 ./...

$(YAEGI):
	$(GO) install github.com/traefik/yaegi/cmd/yaegi@$(YAEGI_VERSION)

## yaegi-test: the unit tests inside Traefik's interpreter.
yaegi-test: $(YAEGI)
	@$(GO) version -m $(YAEGI) | grep -q 'yaegi	$(YAEGI_VERSION)' || $(GO) install github.com/traefik/yaegi/cmd/yaegi@$(YAEGI_VERSION)
	$(YAEGI) test .

## browser: Debian's chromium for the end-to-end tests, installed when missing.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## e2e: real Traefik v3.6.12 (built once into Go's build cache), the zitadel/oidc
## example provider and headless Chromium.
e2e: browser
	cd e2e && $(GO) test -count=1 -timeout 30m ./...
