# Two commands on a fresh machine: `make run` starts the app, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test test-fast load lint chromium clean model

run: $(VENV)/.runtime
	$(PY) -m streamlit run streamlit_app.py --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

test: $(VENV)/.dev chromium
	$(PY) -m pytest

test-fast: $(VENV)/.dev
	$(PY) -m pytest -m "not browser"

load: $(VENV)/.dev chromium
	$(PY) scripts/load_test.py --sessions 4 --minutes 10

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-train.txt requirements-dev.txt pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(VENV)/.runtime $@

# The browser tests drive Debian's Chromium (Playwright cannot download browsers here).
chromium:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts

# How models/default.* were made (hours on a 2-core CPU; resumable: run again after an interruption).
# The first stage ran 17 epochs with --epochs 40, then resumed with --epochs 36 (the cosine schedule shortened).
TRAIN_CMD := python -m fer_app train --arch vgg_small --out runs/vgg_small --epochs 36
TUNE_CMD := python -m fer_app train --arch vgg_small --init runs/vgg_small/best.keras --out runs/vgg_small_ft --epochs 10 --lr 3e-4 --warmup-epochs 0 --erase-prob 0.25
model: $(VENV)/.dev
	$(VENV)/bin/$(TRAIN_CMD)
	$(VENV)/bin/$(TUNE_CMD)
	$(PY) -m fer_app export --model runs/vgg_small_ft/best.keras --slim-copy models/default.keras
	$(PY) -m fer_app card --run runs/vgg_small --run runs/vgg_small_ft --keras models/default.keras --onnx models/default.onnx --command "$(TRAIN_CMD) && $(TUNE_CMD)"
