VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# bqemulator, for the BigQuery end-to-end tests, in a virtualenv of its own (see its requirements)
EMULATOR_VENV ?= .venv-bqemulator
EMULATOR_STAMP := $(EMULATOR_VENV)/.installed
EMULATOR_REQUIREMENTS := tests/e2e/bqemulator-requirements.txt

.PHONY: venv system-deps test demo bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(EMULATOR_STAMP): $(EMULATOR_REQUIREMENTS)
	test -x $(EMULATOR_VENV)/bin/python || python3 -m venv $(EMULATOR_VENV)
	$(EMULATOR_VENV)/bin/python -m pip install --quiet -r $(EMULATOR_REQUIREMENTS)
	touch $(EMULATOR_STAMP)

# Chromium, fonts and PostgreSQL for the browser and job-store tests, installed only when missing.
system-deps:
	.ci/system-deps

venv: $(STAMP) $(EMULATOR_STAMP)

test: $(STAMP) $(EMULATOR_STAMP) system-deps
	$(PY) -m pytest

demo: $(STAMP)
	$(VENV)/bin/jetstream demo

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(EMULATOR_VENV) build *.egg-info demo-output
