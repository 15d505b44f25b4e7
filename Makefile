# Convenience targets; each is a plain go command you can run yourself.
GO ?= go

.PHONY: build example test e2e-deps demo bench-e2e package package-deps

build:
	$(GO) build -buildvcs=auto -o bin/lvsgen ./cmd/lvsgen

# Validate the bundled example and render every host of it.
example: build
	bin/lvsgen validate examples
	@for h in lb1 web1 nat1 app1 full1 tun1 cache1; do \
		echo; echo "### bin/lvsgen render examples --host $$h"; \
		bin/lvsgen render examples --host $$h || exit 1; \
	done
	@echo; echo "### bin/lvsgen render examples --host lb1 --format ipvsadm-save"
	@bin/lvsgen render examples --host lb1 --format ipvsadm-save

e2e-deps:
	bash scripts/e2e-deps.sh

# The .deb and .rpm (packaging/nfpm.yaml) with SHA256SUMS, in dist/.
# Version from git describe; see scripts/package.sh.
package:
	bash scripts/package.sh dist

# rpm (to read the .rpm back in the package test) and nfpm's command.
package-deps:
	bash scripts/package-deps.sh

# The test command: unit tests plus the e2e suite in a real kernel (qemu).
test: e2e-deps package-deps
	$(GO) test ./...

# See it work: boot the e2e VM (a real kernel with IPVS), build the example
# site of examples/ out of network namespaces, run lvsgen plan and apply on
# every director and real server, and send real requests to each VIP.
demo: e2e-deps
	LVSGEN_E2E_RUN='^TestDemo$$' $(GO) test ./e2e/ -run TestGuest -count=1 -v

# lvsgen against ipvsadm on the real kernel, in the same VM run: the
# applier in process, and whole commands (BenchmarkCommands; alone:
# LVSGEN_E2E_BENCH=Commands).
bench-e2e: e2e-deps
	LVSGEN_E2E_RUN='^$$' LVSGEN_E2E_BENCH=. LVSGEN_E2E_TIMEOUT=50m $(GO) test ./e2e/ -run TestGuest -count=1 -v -timeout 60m
