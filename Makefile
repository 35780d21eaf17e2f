# Two commands do all setup on a fresh machine (see README.md):
#   make demo   - create .venv, install, run hover-audio on the embedded demo data
#   make test   - create .venv, install with test extras and browser, run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
APT_PACKAGES_TEST := chromium chromium-driver ffmpeg sound-theme-freedesktop
APT_PACKAGES_RUN  := ffmpeg

.PHONY: demo test install install-test system-deps system-deps-test clean

demo: install system-deps
	$(BIN)/hover-audio demo

test: install-test system-deps-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/hover-audio warmup
	touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml binder/notebook-requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]' -r binder/notebook-requirements.txt
	touch $@ $(VENV)/.installed

# Debian packages: installed only when missing, and only when we are root.
system-deps:
	@scripts/apt-install.sh $(APT_PACKAGES_RUN)

system-deps-test:
	@scripts/apt-install.sh $(APT_PACKAGES_TEST)

clean:
	rm -rf $(VENV) build *.egg-info
