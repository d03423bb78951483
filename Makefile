# rzero: common tasks. `make test` is the test command CI runs (via .ci/run).
SWIFT ?= swift
PYTHON ?= python3

.PHONY: build build-debug run ablations base-model eval crash-test multihost-test test bench scale-check fixtures fuzz api-check serve clean

build:
	$(SWIFT) build -c release --product rzero

# The debug build is what `make run` uses: numeric targets are optimised in every configuration, and
# it avoids the release build of the OpenAPI generator (~13 min on 2 cores).
build-debug:
	$(SWIFT) build --product rzero

# The R-Zero loop on the built-in model: services on loopback, coordinator, report (scripts/run_default.sh).
run: build-debug
	scripts/run_default.sh

# The default run and every configs/ablations/*.json over seeds 1 and 2, then one side-by-side report
# (runs/ablations/report.html). About 5 minutes a run on 2 cores. Each row is the default with one change:
# after changing configs/default.json, scripts/make_ablation_configs.py rewrites them.
ablations: build-debug
	scripts/ablations.sh

# Rebuild the built-in base model from its recipe (models/base/recipe.json: 3.3M parameters, 1800 steps, about 23
# minutes on 2 cores). The result is deterministic for a given build and thread count (the GEMM split depends on it).
# The earlier 1.1M-parameter model is models/base-1m (its recipe.json rebuilds it: --recipe models/base-1m/recipe.json).
base-model: build-debug
	.build/debug/rzero pretrain --out models/base --recipe models/base/recipe.json --threads 2

# Held-out accuracy of a model folder: make eval MODEL=models/base (greedy and majority-of-10).
eval: build-debug
	.build/debug/rzero eval --model $(or $(MODEL),models/base) --dataset $(or $(DATASET),models/base/heldout.jsonl)

# SIGKILL the coordinator at >= 10 random moments (and a service once) and compare with an uninterrupted run.
crash-test: build-debug
	$(PYTHON) scripts/crash_test.py --rzero .build/debug/rzero --model models/base

# Challenger, two Solver replicas and the coordinator in four network namespaces; cuts a replica off
# mid-run (needs root; prints SKIP otherwise).
multihost-test: build-debug
	$(PYTHON) scripts/multihost_test.py --rzero .build/debug/rzero --model models/base

# Build once for tests, then run without rebuilding (alternating build/test configurations rebuilds).
test:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# Throughput benchmarks: training steps vs the sgemm peak and PyTorch, GRPO steps, reward logic, and
# KV-cache sampling vs transformers (and llama.cpp when LLAMA_SRC names its source tree). The
# comparisons run side by side when TORCH_PYTHON names a Python with torch + transformers (+ llama_cpp).
bench: build
	$(PYTHON) scripts/bench_train.py --rzero .build/release/rzero $(if $(TORCH_PYTHON),--torch-python $(TORCH_PYTHON),)
	.build/release/rzero bench rewards
	$(if $(TORCH_PYTHON),$(TORCH_PYTHON) scripts/bench_generate.py --rzero .build/release/rzero --python $(TORCH_PYTHON) $(if $(LLAMA_SRC),--llama-src $(LLAMA_SRC),),.build/release/rzero bench generate --model tiny && .build/release/rzero bench generate --model small)

# rzero at the exact shapes of Qwen3-0.6B and Qwen3-1.7B (random BF16 weights): load, sampling, full and LoRA GRPO
# steps, one R-Zero iteration with both services; PyTorch side by side with TORCH_PYTHON. Needs numpy; TOKENIZER
# names a real tokenizer.json (scripts/qwen_tokenizer_from_gguf.py). About an hour; by hand, not in CI.
scale-check: build-debug
	$(or $(TORCH_PYTHON),$(PYTHON)) scripts/scale_check.py --rzero .build/debug/rzero $(if $(TORCH_PYTHON),--torch-python $(TORCH_PYTHON),) $(if $(TOKENIZER),--tokenizer $(TOKENIZER),)

# Property-based fuzzing of a live service against openapi.yaml (schemathesis in VENV, default /work/venv).
fuzz:
	$(SWIFT) build --product rzero
	scripts/fuzz_local.sh

# Validate openapi.yaml and check the JSON copy the API tests read is current.
api-check:
	$(PYTHON) scripts/check_openapi.py

# Serve the Solver role on a model folder: make serve MODEL=path/to/folder
serve: build
	.build/release/rzero serve --role solver --model $(MODEL)

# Regenerate the PyTorch reference fixtures (needs torch + transformers; run by hand, outputs committed).
fixtures:
	$(PYTHON) scripts/make_fixtures.py

clean:
	rm -rf .build
