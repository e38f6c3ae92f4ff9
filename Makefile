# hambox — the two commands a newcomer needs: `make demo` and `make test`.
# Both bootstrap .venv from pyproject.toml when it is missing or older than pyproject.toml.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.hambox-installed
EXTRAS ?= dev,torch,docs
SPHINX := $(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

.PHONY: demo test docs lint bench clean-venv

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/matching_demo.py

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

clean-venv:
	rm -rf $(VENV)
