"""The folder tree is the taxonomy: layers import only downwards, families never import each
other, nothing imports ``tools/``, architectures never import the training engine, and no
module depends on the order in which the others were imported (no import circles)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ("discriminator_distillation", "generator_distillation", "joint_distillation",
            "adversarial_kd", "gan_teachers")
# the layer of each package: a module imports only from lower layers (or its own package);
# the shared layer 1 may import within itself (no circle, checked below)
LAYERS = {"dfkd": 0, "dfkd.core": 0, "dfkd.nets": 1, "dfkd.losses": 1, "dfkd.data": 1, "dfkd.metrics": 1,
          "generators": 1, "dfkd.knowledge": 2, "dfkd.engine": 3, "dfkd.gan": 4, "dfkd.cli": 4,
          **{f"dfkd.{family}": 5 for family in FAMILIES}}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(module_name(p) for folder in ("dfkd", "generators")
                 for p in (ROOT / folder).rglob("*.py"))


def package_of(module: str) -> str:
    """The LAYERS key a module belongs to."""
    for key in sorted(LAYERS, key=len, reverse=True):
        if module == key or module.startswith(key + "."):
            return key
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS")


def first_party_imports(module: str) -> set[str]:
    """Every dfkd/generators module ``module`` imports, at any depth of its code."""
    path = ROOT / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = ROOT / module.replace(".", "/") / "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found |= {n for n in names if n in MODULES}
    return found


GRAPH = {module: first_party_imports(module) for module in MODULES}


def test_every_module_is_in_a_layer_and_tools_are_never_imported():
    for module, imports in GRAPH.items():
        package_of(module)
        assert not any(name.startswith("tools") for name in imports), module
    for path in ROOT.glob("tools/*.py"):
        tree = ast.parse(path.read_text())
        imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        assert not any(m.startswith("tools") for m in imported), path


def test_layers_import_only_downwards_and_families_not_each_other():
    wrong = []
    for module, imports in GRAPH.items():
        here = package_of(module)
        for name in imports:
            there = package_of(name)
            if there == here:
                continue
            if LAYERS[there] > LAYERS[here] or (LAYERS[there] == LAYERS[here] != 1):
                wrong.append(f"{module} -> {name}")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_no_import_circles():
    """A depth-first search over every first-party import, local imports included."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for name in sorted(GRAPH[module]):
            target = name if name in GRAPH else name.rpartition(".")[0]
            if state.get(target) == 1 and target != module:
                loop = path[path.index(target):] + [target]
                if not all(m.startswith(target + ".") or m == target for m in loop):
                    pytest.fail("import circle: " + " -> ".join(loop))
            if target in GRAPH and target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in MODULES:
        if module not in state:
            visit(module)


def test_every_module_imports_on_its_own_in_a_fresh_interpreter():
    """One fresh interpreter; before each module, every dfkd/generators module is dropped
    from ``sys.modules``, so each is imported as if it were the first (third-party packages
    such as torch stay loaded: they cannot take part in our circles)."""
    script = (
        "import importlib, sys, traceback\n"
        "import torch, torchvision, kornia, yaml, tqdm\n"
        f"failed = []\nfor name in {MODULES!r}:\n"
        "    for key in [k for k in sys.modules if k.split('.')[0] in ('dfkd', 'generators')]:\n"
        "        del sys.modules[key]\n"
        "    try:\n        importlib.import_module(name)\n"
        "    except Exception:\n        failed.append(name + ': ' + traceback.format_exc(limit=1))\n"
        "print('\\n'.join(failed))\nsys.exit(1 if failed else 0)\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def test_architectures_never_import_the_engine_or_tensorboard():
    script = (
        "import pkgutil, importlib, sys\n"
        "import generators, dfkd.nets\n"
        "for package in (generators, dfkd.nets):\n"
        "    for m in pkgutil.iter_modules(package.__path__):\n"
        "        importlib.import_module(f'{package.__name__}.{m.name}')\n"
        "bad = sorted(k for k in sys.modules if k.startswith(('dfkd.engine', 'tensorboard',"
        " 'torch.utils.tensorboard')) or k.startswith(tuple('dfkd.' + f for f in "
        f"{FAMILIES!r})))\n"
        "print(' '.join(bad))\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "", f"loaded with the architectures: {run.stdout}"


def test_every_family_has_the_same_shape():
    """A registry of its methods, a typed config and the train entry its tool calls."""
    for family in FAMILIES:
        folder = ROOT / "dfkd" / family
        assert (folder / "config.py").is_file(), family
        assert (folder / "registry.py").is_file(), family
        assert (folder / "train.py").is_file() or list(folder.glob("train_*.py")), family
