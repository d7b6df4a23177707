"""Automation: `nox -l` lists the sessions. Dependencies come from pyproject.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PLUGINS = ("tlkit-targets", "tlkit-nets", "tlkit-probes")
FIRST_PARTY = [f"plugins/{name}" for name in PLUGINS]

nox.options.sessions = ["tests", "plugins", "lint"]
nox.options.default_venv_backend = "venv"


def extras(name: str) -> list[str]:
    """An optional-dependency list of the core's pyproject.toml."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(data["project"]["optional-dependencies"][name])


def install_all(session: nox.Session) -> None:
    session.install("-e", ".", *[arg for p in FIRST_PARTY for arg in ("-e", p)])
    session.install(*extras("test"))


@nox.session
def tests(session: nox.Session) -> None:
    """The default suite: core and first-party plugins (the README's test command)."""
    install_all(session)
    session.run("pytest", *session.posargs)


@nox.session
@nox.parametrize("plugin", PLUGINS)
def plugins(session: nox.Session, plugin: str) -> None:
    """A fresh environment with the core plus ONE plugin, tested through its entry point."""
    session.install("-e", ".", "-e", f"plugins/{plugin}")
    session.install(*extras("test"))
    # Only this plugin may load: proves it works without its siblings.
    session.env["TLKIT_LOAD_PLUGINS"] = plugin.removeprefix("tlkit-")
    session.run("pytest", f"plugins/{plugin}/tests", *session.posargs)


@nox.session
def slow(session: nox.Session) -> None:
    """Long checks (marked slow): sample-complexity curves, full-size comparisons."""
    install_all(session)
    session.run("pytest", "-m", "slow", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install(*extras("lint"))
    session.run("ruff", "check", "toolkit", "plugins", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "toolkit", "plugins", "tests", "benchmarks")
    # the code blocks of the README, the docs pages and the notebooks
    session.run("ruff", "format", "--check", "README.md", "docs")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy on the core and the first-party plugins."""
    session.install("-e", ".", *[arg for p in FIRST_PARTY for arg in ("-e", p)])
    session.install(*extras("typecheck"))
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Every benchmark under benchmarks/ (they print ratios; none asserts a time)."""
    install_all(session)
    small = ["--small"] if "--small" in session.posargs else []
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *small)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site in strict mode (a warning fails the build)."""
    session.install("-e", ".", *[arg for p in FIRST_PARTY for arg in ("-e", p)])
    session.install(*extras("docs"))
    session.env["NO_MKDOCS_2_WARNING"] = "1"
    session.run("mkdocs", "build", "--strict", "--site-dir", "build/site")


@nox.session
def notebooks(session: nox.Session) -> None:
    """Execute docs/notebooks/*.ipynb top to bottom (`nox -s notebooks -- small` for CI size)."""
    install_all(session)
    size = "small" if "small" in session.posargs else "full"
    session.env["TLKIT_NOTEBOOK_SIZE"] = size
    args = [a for a in session.posargs if a != "small"]
    session.run("pytest", "tests/test_notebooks.py", *args)
