"""The folder tree is the taxonomy: layers import only downwards, families never import each
other, nothing imports ``tools/``, architectures never import the training engine, and no
module depends on the order in which the others were imported (no import circles)."""
from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dfkd.core.config import build_config, read_options
from dfkd.core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ("discriminator_distillation", "generator_distillation", "joint_distillation",
            "adversarial_kd", "gan_teachers")
# the layer of each package: a module imports only from lower layers (or its own package);
# the shared layer 1 may import within itself (no circle, checked below)
LAYERS = {"dfkd": 0, "dfkd.core": 0, "dfkd.nets": 1, "dfkd.losses": 1, "dfkd.data": 1, "dfkd.metrics": 1,
          "generators": 1, "dfkd.knowledge": 2, "dfkd.engine": 3, "dfkd.gan": 4, "dfkd.cli": 4,
          **{f"dfkd.{family}": 5 for family in FAMILIES}, "dfkd.commands": 6}


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


# -- the methods' contract: one constructor shape, typed options, old keys named -------------
#: each family's config classes (its config.py)
FAMILY_CONFIGS = {"discriminator_distillation": ("DFKDConfig",),
                  "generator_distillation": ("CompressConfig",),
                  "joint_distillation": ("JointConfig",),
                  "adversarial_kd": ("KDConfig", "AFDConfig"),
                  "gan_teachers": ("GANConfig",)}
SLOTS = ("teacher", "student", "adversary", "options", "data", "setup")
#: the names the older families give two of the slots (the data-free family's adversary is
#: its generator, its data the dataset spec; GAN compression's adversary its discriminator)
SLOT_ALIASES = {"adversary": {"generator", "discriminator"}, "data": {"spec"}}
#: the families whose Options are frozen dataclasses with the exact slot names
REFORMED = ("adversarial_kd", "gan_teachers")


def family_methods(family: str) -> dict[str, type]:
    registry = importlib.import_module(f"dfkd.{family}").METHODS
    return {name: registry.get(name) for name in registry.names()}


def constructor_parameters(cls: type) -> list[str]:
    """The parameter names (after self) of the first ``__init__`` up ``cls``'s MRO that
    names them (a subclass's ``__init__(self, *args, **kwargs)`` passes them on)."""
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        params = list(inspect.signature(vars(klass)["__init__"]).parameters.values())[1:]
        if not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
            return [p.name for p in params]
    raise AssertionError(f"{cls.__name__} has no __init__ naming its parameters")


def changed(value):
    """Another value of the same type, inside the value ranges of the config table."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value / 2 if value else 0.5
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return [*value, "layer"]
    raise AssertionError(f"no changed value for {value!r}")


@pytest.mark.parametrize("family", FAMILIES)
def test_every_method_takes_the_shared_constructor_and_typed_options(family):
    methods = family_methods(family)
    assert methods, f"{family} registers no method"
    for name, cls in methods.items():
        params = constructor_parameters(cls)
        assert len(params) == len(SLOTS), (name, params)
        for slot, param in zip(SLOTS, params):
            assert param == slot or param in SLOT_ALIASES.get(slot, ()), (name, slot, param)
        assert isinstance(cls.Options, type) and dataclasses.is_dataclass(cls.Options), name
        defaults = read_options(cls.Options, {}, name)
        assert isinstance(defaults, cls.Options)
        for f in dataclasses.fields(defaults):  # every option can be set from the config
            value = changed(getattr(defaults, f.name))
            assert getattr(read_options(cls.Options, {f.name: value}, name), f.name) == value
        with pytest.raises(ConfigError, match=rf"^method {name}: unknown config key "
                                              r"'options.no_such_option'"):
            read_options(cls.Options, {"no_such_option": 1}, name)


@pytest.mark.parametrize("family", REFORMED)
def test_reformed_families_name_the_slots_and_freeze_their_options(family):
    """AFD, data-driven KD and the GAN teachers: ``(teacher, student, adversary, options,
    data, setup)`` by name, and Options frozen dataclasses whose docstring cites a paper
    (a year)."""
    for name, cls in family_methods(family).items():
        assert constructor_parameters(cls) == list(SLOTS), name
        assert cls.Options.__dataclass_params__.frozen, name
        assert re.search(r"\b(19|20)\d\d\b", cls.Options.__doc__ or ""), name
        options = cls.Options()
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(options, "x", 1)


def renamed_cases():
    for family, names in FAMILY_CONFIGS.items():
        module = importlib.import_module(f"dfkd.{family}.config")
        for config in names:
            cls = getattr(module, config)
            for old, new in getattr(cls, "renamed", {}).items():
                yield pytest.param(family, cls, old, new, id=f"{config}.{old}")


@pytest.mark.parametrize("family, config, old, new", list(renamed_cases()))
def test_an_old_top_level_key_is_one_error_naming_its_new_place(family, config, old, new,
                                                                  tmp_path):
    """A user's old config file: the moved key is refused in one line naming the new key,
    which is an option of one of the family's methods."""
    path = tmp_path / "old.yaml"
    path.write_text(f"{old}: 1\n")
    with pytest.raises(ConfigError) as err:
        build_config(config(), [path])
    assert str(err.value) == f"config key '{old}' was renamed: use '{new}'"
    if new.startswith("options."):
        options = {f.name for cls in family_methods(family).values()
                   for f in dataclasses.fields(cls.Options)}
        assert new.removeprefix("options.") in options, (config.__name__, new)


def test_gan_teacher_and_afd_loss_keys_moved_into_options(tmp_path):
    from dfkd.adversarial_kd.afd import AFDOptions
    from dfkd.adversarial_kd.config import AFDConfig
    from dfkd.gan_teachers.config import GANConfig
    from dfkd.gan_teachers.pix2pix import Pix2PixOptions

    old = tmp_path / "old.yaml"
    old.write_text("task: edges2fashion\nl1_weight: 50\n")
    with pytest.raises(ConfigError, match=r"^config key 'l1_weight' was renamed: use "
                                          r"'options.l1_weight'$"):
        build_config(GANConfig(), [old])
    new = tmp_path / "new.yaml"
    new.write_text("task: edges2fashion\noptions: {l1_weight: 50}\n")
    cfg = build_config(GANConfig(), [new])
    assert read_options(Pix2PixOptions, cfg.options, "pix2pix") == Pix2PixOptions(l1_weight=50.0)
    with pytest.raises(ConfigError, match=r"'adv_weight' was renamed: use 'options.adv_weight'"):
        build_config(AFDConfig(), [], ["adv_weight=0"])
    cfg = build_config(AFDConfig(), [], ["options.adv_weight=0", "options.peer_layers=[a, b]"])
    assert read_options(AFDOptions, cfg.options, "afd") == AFDOptions(adv_weight=0.0,
                                                                      peer_layers=["a", "b"])
