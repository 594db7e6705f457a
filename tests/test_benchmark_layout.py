"""The benchmarks' layout: ``tools/benchmark*.py`` are thin entry points into the importable
``benchmarks`` harness, which touches no ``sys.path`` and imports nothing from ``tools``."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS = sorted((ROOT / "tools").glob("benchmark*.py"))
HARNESS = sorted((ROOT / "benchmarks").rglob("*.py"))
ROOT_INSERT = "sys.path.insert(0, str(Path(__file__).resolve().parent.parent))"
TOOL_NAMES = {p.stem for p in (ROOT / "tools").glob("*.py")}


def sys_path_uses(tree: ast.AST) -> list[ast.Attribute]:
    """Every ``sys.path`` in the code (not in strings: a child's ``-c`` code may set its own)."""
    return [node for node in ast.walk(tree) if isinstance(node, ast.Attribute)
            and node.attr == "path" and isinstance(node.value, ast.Name) and node.value.id == "sys"]


def imported_modules(tree: ast.AST) -> set[str]:
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add("." * node.level + (node.module or ""))
    return modules


def from_tools(module: str) -> bool:
    top = module.split(".")[0]
    return top == "tools" or top in TOOL_NAMES or module.startswith(".")


def test_there_are_the_eight_entry_points():
    assert [p.name for p in TOOLS] == ["benchmark.py", "benchmark_amalgamation.py",
                                       "benchmark_distributed.py",
                                       "benchmark_gan.py", "benchmark_joint.py",
                                       "benchmark_losses.py", "benchmark_pair.py",
                                       "benchmark_report.py"]


@pytest.mark.parametrize("path", TOOLS, ids=lambda p: p.name)
def test_a_benchmark_tool_only_inserts_the_repo_root_and_calls_the_harness(path):
    text = path.read_text()
    tree = ast.parse(text)
    assert len(sys_path_uses(tree)) == 1 and ROOT_INSERT in text
    modules = imported_modules(tree)
    assert not [m for m in modules if from_tools(m)]
    assert all(m in ("__future__", "sys", "pathlib") or m.startswith("benchmarks.")
               for m in modules), modules
    assert "importlib" not in text and "runpy" not in text


@pytest.mark.parametrize("path", HARNESS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_harness_touches_no_sys_path_and_imports_no_tool(path):
    tree = ast.parse(path.read_text())
    assert sys_path_uses(tree) == []
    assert not [m for m in imported_modules(tree) if from_tools(m)]
    assert "spec_from_file_location" not in path.read_text()


@pytest.mark.parametrize("path", TOOLS + HARNESS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_benchmark_file_is_long(path):
    assert len(path.read_text().splitlines()) <= 250


def test_every_tool_runs_from_elsewhere_without_importing_torch(tmp_path):
    """Each entry point finds the harness from any folder; a data-free benchmark parent lists
    its methods (the registry's) without importing torch, which would grow its children's
    measured peak RSS."""
    for path in TOOLS:
        result = subprocess.run([sys.executable, str(path), "--help"], cwd=tmp_path,
                                capture_output=True, text=True)
        assert result.returncode == 0 and "usage:" in result.stdout, result.stderr
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from benchmarks.data_free import cli; from benchmarks.data_free.variants import "
            "default_variants; print(' '.join(default_variants())); "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, str(ROOT)], cwd=tmp_path,
                            capture_output=True, text=True, check=True)
    variants, torch_loaded = result.stdout.split("\n")[:2]
    from benchmarks.data_free.variants import ELSEWHERE
    from dfkd.discriminator_distillation import METHODS

    assert variants.split()[::2] == [m for m in METHODS.names() if m not in ELSEWHERE]
    assert torch_loaded == "False"
