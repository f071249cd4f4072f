"""The project files agree with each other: environment.yml, pyproject, the install script and the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _pip_section() -> list[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    return [line.strip()[2:].strip() for line in lines[start + 1 :] if line.strip().startswith("- ")]


def test_environment_yml_installs_the_package_with_the_same_extras_and_torch_pins():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pip = _pip_section()
    extras = set(pyproject["project"]["optional-dependencies"])
    editable = next(p for p in pip if p.startswith("-e ."))
    assert set(re.search(r"\[(.*)\]", editable).group(1).split(",")) == extras
    install = (ROOT / "scripts" / "install.sh").read_text()
    for pin in ("torch==", "torchvision=="):
        (env_pin,) = [p for p in pip if p.startswith(pin)]
        assert f'"{env_pin}"' in install, f"{env_pin} in environment.yml but not in scripts/install.sh"
    for requirement in pyproject["project"]["dependencies"]:
        name = re.split(r"[<>=!~ ]", requirement)[0]
        if name in ("torch", "torchvision"):
            version = re.search(r">=([\d.]+)", requirement).group(1)
            (env_pin,) = [p for p in pip if p.startswith(name + "==")]
            assert tuple(map(int, env_pin.split("==")[1].split("."))) >= tuple(map(int, version.split("."))), name
    assert "python=3.11" in (ROOT / "environment.yml").read_text()


def test_readme_has_exactly_two_setup_commands_and_they_exist():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- setup -->\s*```bash\n(.*?)```", readme, re.S).group(1)
    commands = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert commands == ["bash scripts/reports.sh", "bash scripts/test.sh"]
    for command in commands:
        assert (ROOT / command.split()[1]).is_file()
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_code_is_ruff_clean():
    import shutil
    import subprocess
    import sys

    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is part of the dev extra: pip install -e '.[dev]'"
    for args in (["check", "."], ["format", "--check", "."]):
        proc = subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_readme_quick_start_runs_as_written():
    """The README's quick start is executed as it stands, so it cannot drift from the API."""
    import matplotlib.pyplot as plt

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md quick start", "exec"), namespace)
    plt.close("all")
    assert namespace["explanation"].sentence.startswith("Predicted “espresso”")
    assert namespace["zs"].predict([namespace["photos"]["chelsea"]]) == ["cat"]
    # every sentence the quick start shows (in a comment on its line, or on the next) is the one the code says
    lines, shown = code.splitlines(), 0
    for i, line in enumerate(lines):
        expression, _, comment = line.partition("#")
        if ".sentence" not in expression:
            continue
        said = comment.strip() if comment.strip().startswith("'") else lines[i + 1].strip().removeprefix("#").strip()
        assert said.startswith("'") and said.endswith("'"), f"README shows no sentence for {expression.strip()}"
        assert eval(expression, namespace) == said[1:-1], expression.strip()
        shown += 1
    assert shown == 3
