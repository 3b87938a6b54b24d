# Two commands from a fresh clone: `make book` and `make test` (see README.md); then `make lab` or
# `make voila CHAPTER=10_explorer` to rerun the chapters interactively.
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= tiny
CHAPTER ?= 10_explorer
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LAB_STAMP := $(VENV)/.installed-lab

# pip on some machines is configured with a find-links folder holding a local
# torch "+cpu" build that PyPI's torchvision wheels cannot load; point pip at an
# empty folder so the install ends with a matching PyPI torch/torchvision pair.
NO_FIND_LINKS := $(CURDIR)/$(VENV)/.no-find-links

.PHONY: install book test lab voila lock clean

install: $(STAMP)

# The exact environment of requirements-lock.txt (every extra: book, test, reference, lab), each pin as it is
# (--no-deps: quantus comes without the opencv-python it asks for, which would replace opencv-python-headless),
# then this project, editable. pyproject.toml keeps the ranges that users install from.
$(STAMP): pyproject.toml requirements-lock.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	mkdir -p $(NO_FIND_LINKS)
	PIP_FIND_LINKS=$(NO_FIND_LINKS) $(PY) -m pip install --progress-bar off --no-deps -r requirements-lock.txt
	PIP_FIND_LINKS=$(NO_FIND_LINKS) $(PY) -m pip install --progress-bar off --no-deps -e .
	$(PY) -m corrrelax_lib.environment
	touch $(STAMP)

# The `lab` extra (JupyterLab, Voilà) is in the lock: `make install` installed it.
$(LAB_STAMP): $(STAMP)
	touch $(LAB_STAMP)

# Pin the environment this venv holds (after e.g. `pip install -e ".[book,test,reference,lab]"` and
# `pip install --no-deps quantus`) into requirements-lock.txt.
lock:
	$(PY) -m corrrelax_lib.environment --lock requirements-lock.txt

book: $(STAMP)
	tools/ensure-system-packages npm
	$(VENV)/bin/corrrelax book build --profile $(PROFILE)

# The suite builds the book (npm) and opens it in Debian's Chromium (tests/book/test_browser.py), then reruns
# chapters in JupyterLab and Voilà (tests/book/test_interactive.py).
test: $(LAB_STAMP)
	tools/ensure-system-packages chromium npm
	$(VENV)/bin/ruff check corrrelax_lib tests notebooks benchmarks
	$(PY) -m pytest

# JupyterLab on 127.0.0.1 with the settings in jupyter/, where notebooks/*.py open as notebooks
# (corrrelax_lib/book/interactive.py).
lab: $(LAB_STAMP)
	$(PY) -m corrrelax_lib.book.interactive lab

# One chapter in Voilà on 127.0.0.1: make voila CHAPTER=10_explorer
voila: $(LAB_STAMP)
	$(PY) -m corrrelax_lib.book.interactive voila $(CHAPTER)

clean:
	rm -rf book/_build book/chapters book/reproduction_status.md book/reference_checks.md artifacts
