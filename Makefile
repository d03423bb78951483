# rzero: common tasks. `make test` is the test command CI runs (via .ci/run).
SWIFT ?= swift
PYTHON ?= python3

.PHONY: build test bench fixtures clean

build:
	$(SWIFT) build -c release --product rzero

# Build once for tests, then run without rebuilding (alternating build/test configurations rebuilds).
test:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# Training-step throughput of rzero vs the machine's sgemm peak, and vs PyTorch when TORCH_PYTHON
# points at a Python with torch (measured side by side, interleaved): see scripts/bench_train.py.
bench: build
	$(PYTHON) scripts/bench_train.py --rzero .build/release/rzero $(if $(TORCH_PYTHON),--torch-python $(TORCH_PYTHON),)

# Regenerate the PyTorch reference fixtures (needs torch + transformers; run by hand, outputs committed).
fixtures:
	$(PYTHON) scripts/make_fixtures.py

clean:
	rm -rf .build
