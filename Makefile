# Convenience wrappers; scripts/dev.py does the work and needs only Python 3.11.
PYTHON ?= python3.11

.PHONY: run test bench clean
run:
	$(PYTHON) scripts/dev.py run
test:
	$(PYTHON) scripts/dev.py test
bench:
	$(PYTHON) scripts/dev.py bench
clean:
	rm -rf .venv .pytest_cache
