# The two jobs of the README, and what they stand on.
#   make run    set up, then verify the bundled papers (the main job)
#   make test   set up, then run the test suite (what CI runs)
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
OUT ?= out
VERIFY = $(PYTHON) -m verifier

.PHONY: setup setup-python setup-system services run test lint image schemas bench

setup: setup-system setup-python

setup-system:  ## Debian packages: bubblewrap (the sandbox), podman + runc (container backend)
	bash .ci/system-packages.sh

setup-python:  ## the toolkit, the repro stack (torch CPU, transformers, faiss, eflomal) and the dev tools
	$(PIP) install --quiet --disable-pip-version-check -e '.[all]'

services:  ## podman's Docker-compatible service and the local repro image
	bash -c 'source .ci/services.sh'

run: setup  ## verify the bundled papers; scripts/verify-bundled.sh exits with verify ci's own status
	PYTHON=$(PYTHON) bash scripts/verify-bundled.sh $(OUT)

test: setup services
	bash -c 'source .ci/services.sh >/dev/null && $(PYTHON) -m pytest -q'

lint:
	$(PYTHON) -m ruff check verifier tests bench
	$(PYTHON) -m mypy

schemas:
	$(VERIFY) schemas --write schemas

image:  ## the ML repro image for the container backend, built locally (debootstrap + PyPI, no registry)
	bash scripts/build-repro-image.sh
