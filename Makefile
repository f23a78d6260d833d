# l4sim — the two commands of the README, and a few more.
#   make run    the main job: one-way IPC on the default Cortex-A9 configuration
#   make test   the whole test suite (format, lints, unit/integration tests, guest ELFs up to date)
# Both install what is missing first (cmake, libclang-dev, clang, lld via apt-get).

CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := cmake libclang-dev clang lld

.PHONY: run test deps bench guests check-guests doc clean

deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust (rustup) first"; exit 1; }

run: deps
	$(CARGO) run --release --quiet -- table1

test: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings
	$(CARGO) test --workspace
	fixtures/build-guests.sh --check

bench: deps
	$(CARGO) bench --bench ipc

guests: deps
	fixtures/build-guests.sh

check-guests: deps
	fixtures/build-guests.sh --check

doc: deps
	$(CARGO) doc --workspace --no-deps

clean:
	$(CARGO) clean
