# Two commands on a fresh machine with Python 3.11:
#   make run    install what the notebook needs, then run it top to bottom
#   make test   install the test tools, then run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
NB     := Handwritten_digit_recognition.ipynb

.PHONY: run test lint render benchmark clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Runs the notebook on whatever data it finds (dataset/, Kaggle, Keras' MNIST or the embedded sample).
# Results go to outputs/; the committed models in models/ are left alone.
run: $(VENV)/.installed
	mkdir -p outputs
	$(PY) -m papermill --log-output --no-progress-bar $(NB) outputs/$(NB) \
		-p OUTPUT_DIR outputs -p MODEL_DIR outputs/models

test: $(VENV)/.dev-installed
	$(PY) -m pytest

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf outputs .pytest_cache .ruff_cache
