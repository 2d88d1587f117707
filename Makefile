# Two commands do everything on a fresh machine:
#   make report   set up, validate the bundled evidence once, render the report set into reports/ (index.html)
#   make test     set up, run the whole test suite (metafor reference values pinned: no R needed)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SEEDS ?= ../shared/seeds

.PHONY: report test setup lab bench lint reference test-live-r clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# the whole stack in one resolver run (forestplot pins matplotlib-inline<=0.1.3)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

setup: $(VENV)/.installed

report: setup
	$(PY) -m mbtevidence render --output reports --seeds $(SEEDS) --jobs 2

test: setup
	MBTEVIDENCE_SEEDS=$(SEEDS) $(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check mbtevidence tests benchmarks
	$(VENV)/bin/ruff format --check mbtevidence tests benchmarks
	$(VENV)/bin/mypy

# the agreement tests against live R (metafor): each R result must equal the pinned reference
test-live-r: setup
	MBTEVIDENCE_SEEDS=$(SEEDS) MBTEVIDENCE_LIVE_R=1 $(PY) -m pytest -q -m metafor

# re-record tests/reference/metafor.json from R's metafor
reference: setup
	MBTEVIDENCE_SEEDS=$(SEEDS) MBTEVIDENCE_RECORD_R=1 $(PY) -m pytest -q -m metafor

lab: setup
	$(VENV)/bin/jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

bench: setup
	$(PY) benchmarks/run.py

clean:
	rm -rf reports .pytest_cache
