# Two commands do everything on a fresh machine:
#   make report   set up, validate the bundled evidence, render the reports into reports/
#   make test     set up, run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SEEDS ?= ../shared/seeds

.PHONY: report test setup lab bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# the whole stack in one resolver run (forestplot pins matplotlib-inline<=0.1.3)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

setup: $(VENV)/.installed

report: setup
	$(PY) -m mbtevidence validate --seeds $(SEEDS)
	$(PY) -m mbtevidence render --output reports --seeds $(SEEDS)

test: setup
	MBTEVIDENCE_SEEDS=$(SEEDS) $(PY) -m pytest

lab: setup
	$(VENV)/bin/jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

bench: setup
	$(PY) benchmarks/run.py

clean:
	rm -rf reports .pytest_cache
