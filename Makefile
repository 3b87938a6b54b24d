# Two commands from a fresh clone: `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= tiny
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# pip on some machines is configured with a find-links folder holding a local
# torch "+cpu" build that PyPI's torchvision wheels cannot load; point pip at an
# empty folder so the install ends with a matching PyPI torch/torchvision pair.
NO_FIND_LINKS := $(CURDIR)/$(VENV)/.no-find-links

.PHONY: install book test clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	mkdir -p $(NO_FIND_LINKS)
	PIP_FIND_LINKS=$(NO_FIND_LINKS) $(PY) -m pip install --progress-bar off -e ".[book,test]"
	$(PY) -m corrrelax_lib.environment
	touch $(STAMP)

book: $(STAMP)
	tools/ensure-system-packages npm
	$(PY) -m corrrelax_lib.book build --profile $(PROFILE)

# The suite builds the book (npm) and opens it in Debian's Chromium (tests/book/test_browser.py).
test: $(STAMP)
	tools/ensure-system-packages chromium npm
	$(VENV)/bin/ruff check corrrelax_lib tests notebooks
	$(PY) -m pytest

clean:
	rm -rf book/_build book/chapters book/reproduction_status.md artifacts
