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

.PHONY: install book test lab voila clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	mkdir -p $(NO_FIND_LINKS)
	PIP_FIND_LINKS=$(NO_FIND_LINKS) $(PY) -m pip install --progress-bar off -e ".[book,test]"
	$(PY) -m corrrelax_lib.environment
	touch $(STAMP)

# The `lab` extra (JupyterLab, Voilà) on top of what `make install` installs.
$(LAB_STAMP): $(STAMP)
	PIP_FIND_LINKS=$(NO_FIND_LINKS) $(PY) -m pip install --progress-bar off -e ".[book,test,lab]"
	touch $(LAB_STAMP)

book: $(STAMP)
	tools/ensure-system-packages npm
	$(VENV)/bin/corrrelax book build --profile $(PROFILE)

# The suite builds the book (npm) and opens it in Debian's Chromium (tests/book/test_browser.py), then reruns
# chapters in JupyterLab and Voilà (tests/book/test_interactive.py).
test: $(LAB_STAMP)
	tools/ensure-system-packages chromium npm
	$(VENV)/bin/ruff check corrrelax_lib tests notebooks
	$(PY) -m pytest

# JupyterLab on 127.0.0.1 with the settings in jupyter/, where notebooks/*.py open as notebooks
# (corrrelax_lib/book/interactive.py).
lab: $(LAB_STAMP)
	$(PY) -m corrrelax_lib.book.interactive lab

# One chapter in Voilà on 127.0.0.1: make voila CHAPTER=10_explorer
voila: $(LAB_STAMP)
	$(PY) -m corrrelax_lib.book.interactive voila $(CHAPTER)

clean:
	rm -rf book/_build book/chapters book/reproduction_status.md artifacts
