VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv system-deps test demo bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# Chromium, fonts and PostgreSQL for the browser and job-store tests, installed only when missing.
system-deps:
	.ci/system-deps

test: $(STAMP) system-deps
	$(PY) -m pytest

demo: $(STAMP)
	$(VENV)/bin/jetstream demo

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info demo-output
