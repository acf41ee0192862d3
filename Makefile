# Two commands on a fresh machine: `make run` (chat UI + API over seeds/) and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export OMP_WAIT_POLICY ?= PASSIVE
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: setup browser run test lint index reader reader-linear eval clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	# The CPU build of torch must come first: a plain `torch` requirement pulls a CUDA build.
	$(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,milvus]"
	touch $(STAMP)

setup: $(STAMP)

# Debian's chromium for the real-browser test (Playwright drives it; no browser downloads).
browser:
	@command -v chromium >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
	  echo "chromium could not be installed: the browser test will be skipped"

run: setup
	$(VENV)/bin/rag serve

index: setup
	$(VENV)/bin/rag index

lint: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy rag
	$(VENV)/bin/lint-imports

test: setup browser lint
	$(VENV)/bin/pytest

# Retrain the packaged readers from ../shared/train. The neural span reader: about 95 minutes
# on 2 cores (3,000 steps of 16 examples, then 1,000 more with multi-hop questions), resumable
# (run it again after an interruption), then exported to int8 ONNX and calibrated. The linear
# feature reader: a few minutes.
reader: setup
	$(VENV)/bin/rag train ../shared/train --neural

reader-linear: setup
	$(VENV)/bin/rag train ../shared/train

eval: setup
	$(VENV)/bin/rag eval ../shared/eval/squad2 --json
	$(VENV)/bin/rag eval ../shared/eval/multihop --json
	$(VENV)/bin/rag eval ../shared/eval/realdocs --json

clean:
	rm -rf index .cache
