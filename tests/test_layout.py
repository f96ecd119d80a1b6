"""The package's architecture, enforced: the framework core stands apart from data and the
applications; library modules never import the command-line helpers; imports stay cheap."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scratchnet"
COMMANDS = {"scratchnet.cli", "scratchnet.serve", "scratchnet.export", "scratchnet.gradcheck"}
SHARED = {"scratchnet", "scratchnet.errors", "scratchnet.fileio"}   # usable from every layer
# what each layer of the package may import from scratchnet itself
ALLOWED = {
    "scratchnet.core": ("scratchnet.core",),
    "scratchnet.data": ("scratchnet.core", "scratchnet.data"),
    "scratchnet.apps": ("scratchnet.core", "scratchnet.data", "scratchnet.apps", "scratchnet.sysinfo"),
}


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def scratchnet_imports(path):
    """Absolute names of the scratchnet modules `path` imports (relative imports resolved)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "scratchnet"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "scratchnet":
                continue
            for alias in node.names:   # `from . import fused` imports the module scratchnet.core.fused
                sub = f"{target}.{alias.name}"
                found.add(sub if (PACKAGE.parent / Path(*sub.split("."))).with_suffix(".py").exists()
                          or (PACKAGE.parent / Path(*sub.split("."))).is_dir() else target)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_each_layer_imports_only_what_it_may(path):
    name = module_name(path)
    layer = next((l for l in ALLOWED if name == l or name.startswith(l + ".")), None)
    imports = scratchnet_imports(path)
    if name not in COMMANDS:
        assert not imports & COMMANDS, f"{name} is a library module but imports {imports & COMMANDS}"
    if layer is None:
        return
    bad = {m for m in imports - SHARED if not m.startswith(ALLOWED[layer])}
    assert not bad, f"{name} ({layer}) must not import {sorted(bad)}"


def test_the_checker_sees_relative_imports():
    # the rule above is only as good as the import resolution: check it on known modules
    assert "scratchnet.core.fused" in scratchnet_imports(PACKAGE / "core" / "model.py")
    assert "scratchnet.errors" in scratchnet_imports(PACKAGE / "core" / "model.py")
    assert "scratchnet.data.preprocess" in scratchnet_imports(PACKAGE / "apps" / "inference.py")


def test_importing_the_core_loads_neither_data_nor_apps_nor_numba():
    code = ("import sys, pkgutil, importlib, scratchnet.core as core\n"
            "for m in pkgutil.walk_packages(core.__path__, 'scratchnet.core.'):\n"
            "    if not m.name.endswith(('.jit', '.compiling')): importlib.import_module(m.name)\n"   # (Numba's back end)
            "print(sorted(m for m in sys.modules if m.startswith(('scratchnet.data', 'scratchnet.apps', 'numba', 'matplotlib'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_public_names_stay_where_users_find_them():
    import scratchnet
    from scratchnet.core import layers
    for name in ("mnist_cnn", "mnist_mlp", "Sequential", "load_model", "SGD", "softmax_cross_entropy",
                 "Conv2D", "MaxPool2D", "Flatten", "Dense", "ReLU"):
        assert getattr(scratchnet, name) is not None
    assert scratchnet.Conv2D is layers.Conv2D


def test_test_pictures_are_not_installed():
    assert not list(PACKAGE.rglob("userstyle.py"))


def test_what_users_make_stays_out_of_git():
    """Models, reports and the demo's corrections are the user's, not the repository's."""
    ignored = subprocess.run(["git", "check-ignore", "models/x.npz", "reports/report.md", "corrections/labels.csv"],
                             capture_output=True, text=True, cwd=PACKAGE.parent)
    if ignored.returncode == 128:          # not a git checkout (an unpacked copy): read the file
        lines = (PACKAGE.parent / ".gitignore").read_text().split()
        assert {"models/", "reports/", "corrections/"} <= set(lines)
    else:
        assert ignored.stdout.split() == ["models/x.npz", "reports/report.md", "corrections/labels.csv"]
