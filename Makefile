# hambox — the two commands a newcomer needs: `make demo` and `make test`.
# Both bootstrap .venv from pyproject.toml when it is missing or older than pyproject.toml.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.hambox-installed
EXTRAS ?= dev,torch,docs,onnx
SPHINX := $(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

.PHONY: demo test docs lint bench clean-venv

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $(STAMP)

# Trains the CPU demo detector on the embedded data set (generated on first use) and prints its
# official WIDER FACE AP; outputs in runs/demo_cpu.
demo: $(STAMP)
	$(PY) examples/train_widerface.py

test: $(STAMP)
	$(PY) -m pytest
	$(SPHINX)

docs: $(STAMP)
	$(SPHINX)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(PY) bench/matching.py
	$(PY) bench/nms.py
	$(PY) bench/torch_matching.py
	$(PY) bench/train_step.py

clean-venv:
	rm -rf $(VENV)
