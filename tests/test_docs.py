"""docs/backprop.md cannot rot: its Python blocks run, its console blocks are run and their
shown output checked, and every command, check name, file and function it names exists; nor
can the README's pointers to files."""
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "backprop.md"
TEXT = DOC.read_text()


def blocks(kind):
    return re.findall(rf"```{kind}\n(.*?)```", TEXT, flags=re.S)


def test_every_python_block_runs_in_order():
    namespace = {}
    code = blocks("python")
    assert len(code) >= 8
    for i, block in enumerate(code):
        try:
            exec(compile(block, f"{DOC.name} block {i + 1}", "exec"), namespace)
        except Exception as e:  # noqa: BLE001  (say which block broke)
            pytest.fail(f"python block {i + 1} of {DOC.name} fails: {type(e).__name__}: {e}\n{block}")


@pytest.mark.parametrize("block", blocks("console"))
def test_every_console_block_prints_what_it_shows(block):
    lines = block.strip().splitlines()
    command = lines[0].removeprefix("$ ")
    args = shlex.split(command)
    assert args[:3] == ["python", "-m", "scratchnet.gradcheck"]
    proc = subprocess.run([sys.executable, *args[1:]], capture_output=True, text=True, cwd=ROOT, timeout=300)
    shown = [l for l in lines[1:] if l.strip() != "..."]
    for line in shown:
        assert line in proc.stdout, f"{command} no longer prints {line!r}:\n{proc.stdout}"


def test_every_named_check_and_bug_exists():
    from scratchnet.core.gradcheck import CHECKS, PLANTED_BUGS
    checks = re.findall(r"gradcheck --only ([a-z][\w-]*)", TEXT)
    bugs = re.findall(r"--plant-bug ([a-z][\w-]*)", TEXT) + re.findall(r'"([a-z]+(?:-[a-z]+)+)"', TEXT)
    assert set(CHECKS) <= set(checks) | {"flatten"}, "a check the doc does not explain"
    assert set(checks) <= set(CHECKS)
    assert bugs and set(bugs) <= set(PLANTED_BUGS)


def test_every_code_pointer_exists():
    """Each "Code:" pointer names files that exist and functions or classes defined in them
    (or, for a bare file name, somewhere in the package)."""
    pointers = re.findall(r"Code: (.*?)(?:\.\s|\.$)", " ".join(TEXT.split()))
    assert len(pointers) >= 7
    package = {p: p.read_text() for p in (ROOT / "scratchnet").rglob("*.py")}
    for pointer in pointers:
        for name in re.findall(r"`([^`]+)`", pointer):
            if name.endswith(".py"):
                assert any(str(p).endswith(name) for p in package), f"no file {name} ({pointer})"
            else:
                leaf = name.split(".")[-1]
                assert any(re.search(rf"(def|class) {leaf}\b", src) for src in package.values()), \
                    f"{name} is not defined in scratchnet ({pointer})"


def test_every_path_the_readme_names_exists():
    """The README's file pointers (`scratchnet/...`, `benchmarks/...`, `docs/...`, pictures)
    and the files of its tour of the code exist."""
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"[`(]((?:scratchnet|benchmarks|docs|tests|synthetic)/[\w/.-]+\.(?:py|md|png|sh|html))",
                           readme))
    assert len(named) >= 20
    # the tour's table: each row's first cell names a path, and bare file names beside it
    # live in the same folder
    tour = readme.split("## A tour of the code", 1)[1].split("\n## ", 1)[0]
    for row in re.findall(r"^\| (`.*?) \|", tour, flags=re.M):
        names = re.findall(r"`([^`]+)`", row)
        folder = names[0].rsplit("/", 1)[0] + "/" if "/" in names[0].rstrip("/") else ""
        named.update([names[0]] + [folder + n for n in names[1:]])
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert not missing, f"the README names files that do not exist: {missing}"
