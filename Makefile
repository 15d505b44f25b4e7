# Convenience targets; each is a plain go command you can run yourself.
GO ?= go

.PHONY: build example test e2e-deps

build:
	$(GO) build -o bin/lvsgen ./cmd/lvsgen

# Validate the bundled example and render every host of it.
example: build
	bin/lvsgen validate examples
	@for h in lb1 web1 nat1 app1 tun1 cache1; do \
		echo; echo "### bin/lvsgen render examples --host $$h"; \
		bin/lvsgen render examples --host $$h || exit 1; \
	done
	@echo; echo "### bin/lvsgen render examples --host lb1 --format ipvsadm-save"
	@bin/lvsgen render examples --host lb1 --format ipvsadm-save

e2e-deps:
	bash scripts/e2e-deps.sh

# The test command: unit tests plus the e2e suite in a real kernel (qemu).
test: e2e-deps
	$(GO) test ./...
