PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test fuzz bench docs clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/dlnlab reproduce all --quick --out results

# One BLAS thread: the suite is many small factorizations, which multi-threaded OpenBLAS
# slows down by 10-100x on a loaded machine; it also makes timings reproducible.
test: $(STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q

# The fuzz suite of `make test` (tests/test_fuzz.py) with many more random cases per solver.
FUZZ_EXAMPLES ?= 3000
fuzz: $(STAMP)
	DLNLAB_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q \
		-p no:cacheprovider tests/test_fuzz.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# The documentation site: every page, the API reference and the gallery (its scripts run during
# the build, so a broken example fails it); warnings are errors.
docs: $(STAMP)
	MPLBACKEND=Agg OPENBLAS_NUM_THREADS=1 $(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

clean:
	rm -rf $(VENV) results .pytest_cache docs/_build docs/api docs/auto_examples
