"""Packaging: ``pip install .`` gives the console commands of pyproject.toml's
``[project.scripts]``, each doing what its ``tools/`` script does, with the YAML configs
inside the wheel.

The fast tests read pyproject.toml and the tools; the ``wheel`` test builds a wheel of the
working tree, installs it into a fresh venv and runs commands from outside the repository
(30-50 s on 2 cores, plus the shared tiny teacher)."""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

TOOLS = sorted(p for p in (ROOT / "tools").glob("*.py") if not p.stem.startswith("benchmark"))


def read_pyproject() -> dict:
    """pyproject.toml: tomllib's reading, or on Python 3.10 the two parts these tests use
    (``[project.scripts]`` and ``[tool.setuptools] packages``), read simply."""
    text = (ROOT / "pyproject.toml").read_text()
    try:
        import tomllib
    except ModuleNotFoundError:
        scripts = text.split("[project.scripts]\n", 1)[1].split("\n[", 1)[0]
        packages = re.search(r"^packages = \[(.*?)\]", text, re.S | re.M).group(1)
        return {"project": {"scripts": dict(re.findall(r'^([\w-]+) = "(.+)"$', scripts, re.M))},
                "tool": {"setuptools": {"packages": re.findall(r'"([\w.]+)"', packages)}}}
    return tomllib.loads(text)


PYPROJECT = read_pyproject()
SCRIPTS = PYPROJECT["project"]["scripts"]


def command_of(tool: Path) -> str:
    """``tools/train_dfkd.py`` -> ``dfkd-train-dfkd``."""
    return "dfkd-" + tool.stem.replace("_", "-")


# -- fast: the table of commands ---------------------------------------------------------------
def test_every_script_entry_is_an_importable_function():
    assert SCRIPTS, "pyproject.toml has no [project.scripts]"
    for name, target in SCRIPTS.items():
        module, _, attr = target.partition(":")
        function = getattr(importlib.import_module(module), attr, None)
        assert inspect.isfunction(function), f"{name} = {target!r} is not a function"
        assert not inspect.signature(function).parameters, f"{target} must take no arguments"


def test_every_tool_but_the_benchmarks_has_a_command_and_nothing_else_has_one():
    assert sorted(SCRIPTS) == sorted(command_of(tool) for tool in TOOLS)


@pytest.mark.parametrize("tool", TOOLS, ids=lambda p: p.stem)
def test_a_command_runs_the_main_of_its_tool(tool, monkeypatch):
    """``dfkd-<tool>`` hands ``run_main`` the very ``main`` that ``tools/<tool>.py`` runs
    (the command is called with ``run_main`` replaced: nothing runs)."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # the tool puts the repository first
    spec = importlib.util.spec_from_file_location(f"tool_{tool.stem}", tool)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    handed = []
    monkeypatch.setattr("dfkd.cli.run_main", handed.append)
    module, _, attr = SCRIPTS[command_of(tool)].partition(":")
    getattr(importlib.import_module(module), attr)()
    assert handed == [script.main]


def test_importing_the_commands_loads_no_tool():
    """Each tool is imported when its command runs: ``import dfkd.commands`` stays cheap."""
    script = ("import sys, dfkd.commands\n"
              "print(sorted(m for m in sys.modules if m.startswith(('torch', 'dfkd.'))))")
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['dfkd.commands']"


def test_the_package_list_names_every_package_folder():
    """pyproject.toml lists the packages (packages.find cannot add configs/ mapped to
    dfkd._configs): a package folder missing from the list would be missing from wheels."""
    folders = {".".join(p.parent.relative_to(ROOT).parts)
               for base in ("dfkd", "generators") for p in (ROOT / base).rglob("__init__.py")}
    assert set(PYPROJECT["tool"]["setuptools"]["packages"]) == folders | {"dfkd._configs"}


# -- slow: a wheel, installed into a fresh venv ------------------------------------------------
def copy_working_tree(dest: Path) -> None:
    """The files git tracks or would track (new files included, ignored ones such as runs/,
    data/, checkpoints and .venv left out), as they are in the working tree."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():  # a tracked file deleted in the working tree is skipped
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)


def check_wheel_contents(wheel: Path, src: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
    assert {n.split("/")[0] for n in names} == {"dfkd", "generators", dist_info}
    configs = {f"dfkd/_configs/{p.relative_to(src / 'configs').as_posix()}"
               for p in (src / "configs").rglob("*.yaml")}
    assert configs and configs <= set(names), sorted(configs - set(names))
    others = [n for n in names if not n.startswith(dist_info) and not n.endswith(".py")
              and n not in configs]
    assert not others, f"unexpected files in the wheel: {others}"
    assert "generators/__init__.py" in names and "dfkd/commands.py" in names


def run_in(cwd: Path, env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.wheel
def test_the_installed_wheel_runs_its_commands_with_its_own_configs(tmp_path, fake_data_root,
                                                                   teacher):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout (the wheel is built from git's file list)")
    src, wheels, venv, outside = (tmp_path / d for d in ("src", "wheels", "venv", "elsewhere"))
    copy_working_tree(src)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "--no-build-isolation", "-q", "-w", str(wheels), str(src)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = wheels.glob("dfkd-*.whl")
    check_wheel_contents(wheel, src)

    # a fresh venv: the wheel installed with nothing else; the dependencies (torch, ...) are
    # those of the running interpreter, through a .pth file (nothing is downloaded)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    bin_dir = venv / "bin"
    python = bin_dir / "python"
    site_packages = Path(run_in(tmp_path, None, python, "-c", "import sysconfig; print("
                                "sysconfig.get_paths()['purelib'])").stdout.strip())
    ours = sysconfig.get_paths()
    (site_packages / "dfkd-test-dependencies.pth").write_text(
        "\n".join(dict.fromkeys([ours["purelib"], ours["platlib"]])) + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                              "-q", "--no-deps", "--no-index", str(wheel)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr

    # run from outside the repository, so that the checkout cannot be imported by accident
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DFKD_DATA")}
    where = run_in(outside, env, python, "-c", "import dfkd, dfkd.core.config as c; "
                   "print(dfkd.__file__); print(c.CONFIG_DIR)")
    assert where.returncode == 0, where.stderr
    package_file, config_dir = map(Path, where.stdout.split("\n")[:2])
    assert package_file.resolve().is_relative_to(venv.resolve()), package_file
    assert config_dir == package_file.parent / "_configs", f"configs read from {config_dir}"

    helped = run_in(outside, env, bin_dir / "dfkd-train-dfkd", "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: dfkd-train-dfkd") and "--method" in helped.stdout

    refused = run_in(outside, env, bin_dir / "dfkd-train-dfkd", "--method", "nosuch")
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [refused.stderr.strip()]
    assert refused.stderr.startswith("error: unknown data-free method 'nosuch'")

    # a tiny real run of DAFL, with the wheel's configs/dafl/fashion_mnist.yaml
    run = tmp_path / "run"
    distilled = run_in(outside, env, bin_dir / "dfkd-train-dfkd", "--method", "dafl",
                       "--teacher-ckpt", teacher, "--data-root", fake_data_root, "--out", run,
                       "--iters", "1", "--batch-size", "16", "--set", "generator.ngf=4",
                       "--set", "generator.nz=8", "--set", "train.eval_every=1")
    assert distilled.returncode == 0, distilled.stdout + distilled.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["method"] == "dafl" and metrics["iters"] == 1
    shipped = yaml.safe_load((config_dir / "dafl" / "fashion_mnist.yaml").read_text())
    assert metrics["config"]["replay"] == shipped["replay"]  # not the defaults (capacity 0)
    assert metrics["config"]["student"]["steps"] == shipped["student"]["steps"]
    assert not list(outside.iterdir())  # nothing written where the commands ran
