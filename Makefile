# GenLab: `make run` starts the app, `make test` runs every test. Both create .venv first if it is missing.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
ADDRESS ?= 127.0.0.1
PORT ?= 8501

.PHONY: run test test-fast browser-deps bench clean

$(VENV)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11) on PATH, or run: make PYTHON=python3 ..."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

run: $(VENV)/.installed
	$(PY) -m streamlit run app.py --server.address $(ADDRESS) --server.port $(PORT)

# The browser test needs Debian's Chromium; install it when missing and we are allowed to (root + apt).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian chromium for the browser test"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium: the browser test will report it"; \
	  else echo "no /usr/bin/chromium and no root: the browser test will be skipped"; fi; \
	fi

test: $(VENV)/.installed browser-deps
	$(PY) -m pytest -q

test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not browser"

bench: $(VENV)/.installed
	$(PY) benchmarks/engine_overhead.py
	$(PY) benchmarks/app_cold_start.py

clean:
	rm -rf $(VENV) .pytest_cache
