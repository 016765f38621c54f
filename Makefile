# Two commands on a fresh machine with Python 3.11:
#   make run    install what the notebook needs (requirements.txt), run it top to bottom, check what it wrote
#   make test   install the test tools too (requirements-dev.txt), then run the test suite
# and, after either: make app (the web app), make desktop (the OpenCV tool), make test-fast, make lint.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
NB     := Handwritten_digit_recognition.ipynb
OUT    ?= outputs

.PHONY: run test test-fast lint app desktop render clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt pyproject.toml
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Runs the notebook on whatever data it finds (dataset/, Kaggle, Keras' MNIST or the embedded sample).
# Results go to $(OUT)/; the committed models in models/ are left alone.
run: $(VENV)/.installed
	mkdir -p $(OUT)
	$(PY) scripts/run_notebook.py $(NB) $(OUT)/$(NB) -p OUTPUT_DIR $(OUT) -p MODEL_DIR $(OUT)/models
	PYTHONPATH=apps $(PY) scripts/check_run.py $(OUT)  # it reads novelty.npz with the apps' digitkit

test: $(VENV)/.dev-installed
	$(PY) -m pytest

test-fast: $(VENV)/.dev-installed
	$(PY) -m pytest -m "not slow"

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The web app on http://localhost:8501 and the desktop tool, with the models in models/.
app: $(VENV)/.dev-installed
	$(VENV)/bin/streamlit run apps/streamlit_app.py

desktop: $(VENV)/.dev-installed
	$(PY) apps/opencv_app.py

# The committed notebook: a full run on the Kaggle data in dataset/ (digit-recognizer.zip or its CSVs),
# written to a temporary file first and moved over the notebook only when the run succeeded.
render: $(VENV)/.installed
	@test -e dataset/train.csv -o -e dataset/digit-recognizer.zip || \
		{ echo "make render: put Kaggle's digit-recognizer.zip (or train.csv and test.csv) in dataset/ first"; exit 1; }
	mkdir -p $(OUT)
	$(PY) scripts/run_notebook.py $(NB) $(OUT)/render.ipynb --plain
	mv $(OUT)/render.ipynb $(NB)

clean:
	rm -rf outputs .pytest_cache .ruff_cache
