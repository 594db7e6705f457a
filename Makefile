# dfkd: `make demo` runs the embedded data-free distillation, `make test` the tests.
# Both create .venv and install dfkd into it when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The torch/torchvision versions this project is tested with (pyproject.toml declares ranges).
TORCH_PIN := torch==2.14.1 torchvision==0.29.1
DEMO_OUT := runs/demo-$(shell date +%Y%m%d-%H%M%S)

.PHONY: demo test data bench bench-deps bench-losses bench-gan bench-joint bench-ddp install clean-runs

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PIN)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

# Fashion-MNIST: Debian's dataset-fashion-mnist when we are root, else torchvision's downloader.
data: install
	@if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] \
	    && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -q && apt-get install -y -q dataset-fashion-mnist; fi
	$(BIN)/python tools/get_data.py

demo: data
	$(BIN)/python tools/train_dfkd.py --method dafl --teacher lenet5 --student lenet5_half \
	  --dataset fashion_mnist --out $(DEMO_OUT)

# one worker per core (pytest-xdist): the suite takes ~10 minutes on one core
test: install
	$(BIN)/python -m pytest -n auto tests

# the plots of the benchmark pages need matplotlib (the bench extra)
bench-deps: install
	$(BIN)/python -m pip install -q -e '.[bench]'

# each bench target ends by regenerating benchmarks/README.md (tables and plots of all of them)
bench: data bench-deps
	$(BIN)/python tools/benchmark.py
	$(BIN)/python tools/benchmark_pair.py --pair lenet5_bn
	$(BIN)/python tools/benchmark_pair.py --pair lenet5
	$(BIN)/python tools/benchmark_amalgamation.py
	$(BIN)/python tools/benchmark_report.py

# knowledge-form losses with real data (tools/train_kd.py), two teacher/student pairs
bench-losses: data bench-deps
	$(BIN)/python tools/benchmark_losses.py
	$(BIN)/python tools/benchmark_report.py

# GAN compression: pix2pix and CycleGAN teachers, GAN Compression students, scratch students
# generator distillation: teacher, scratch and every method's student per task, 3 seeds;
# resumable part by part, e.g. make bench-gan GAN_ARGS="--seeds 0 --stop-after 60"
GAN_ARGS ?=
bench-gan: data bench-deps
	$(BIN)/python tools/benchmark_gan.py $(GAN_ARGS)
	$(BIN)/python tools/benchmark_report.py

# joint G+D distillation (DCGAN teacher, scratch, Aguinaldo, joint students) and
# adversarial student KD vs plain KD
bench-joint: data bench-deps
	$(BIN)/python tools/benchmark_joint.py
	$(BIN)/python tools/benchmark_report.py

# one process against torchrun with two (gloo) on the same cores
bench-ddp: data bench-deps
	$(BIN)/python tools/benchmark_distributed.py
	$(BIN)/python tools/benchmark_report.py
