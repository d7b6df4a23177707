"""Package skeletons for plugin authors (``tlkit new target NAME``).

The files come from ``tlkit/templates/<kind>/``: ``*.tmpl`` files have their
``{{placeholders}}`` filled in and lose the suffix; a path segment ``__package__``
becomes the import package name. The generated package installs and passes its
own tests unchanged.
"""

from __future__ import annotations

import keyword
import re
from importlib import metadata, resources, util
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

from tlkit.atomic import atomic_directory
from tlkit.errors import ConfigError

if TYPE_CHECKING:
    from tlkit.plugins import PluginHost

#: a target name: lower-case words separated by single hyphens, starting with a letter
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def plugin_names(name: str) -> dict[str, str]:
    """The names a plugin package derives from a target name.

    Args:
        name: the target name users type, e.g. ``"sparse-parity"``.

    Returns:
        ``name``, ``distribution`` (``tlkit-sparse-parity``), ``package``
        (``tlkit_sparse_parity``) and ``classname`` (``SparseParity``).

    Raises:
        ConfigError: if ``name`` is not lower-case letters, digits and single hyphens
            starting with a letter.
    """
    if isinstance(name, str) and keyword.iskeyword(name):
        raise ConfigError(
            f"{name!r} is a Python keyword and cannot name the package; choose another name"
        )
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"target name must be lower-case letters, digits and single '-' starting with a "
            f"letter (e.g. 'sparse-parity'); got {name!r}"
        )
    parts = name.split("-")
    return {
        "name": name,
        "distribution": f"tlkit-{name}",
        "package": "tlkit_" + "_".join(parts),
        "classname": "".join(p[:1].upper() + p[1:] for p in parts),
    }


def check_name_is_free(name: str, host: PluginHost) -> None:
    """Refuse a name whose package would clash with what is installed.

    The package derives four names from the target name: the target, the entry point
    (``name``), the distribution (``tlkit-name``) and the import package
    (``tlkit_name``). Installing a package whose distribution is already installed
    replaces it (``tlkit new target nets`` would uninstall tlkit-nets).

    Raises:
        ConfigError: naming what is installed under that name.
    """
    names = plugin_names(name)
    registry = host.ensure_registered()
    if name in registry.names("target"):
        owner = registry.get("target", name).plugin
        raise ConfigError(
            f"a target named {name!r} is already installed (plugin {owner!r}); choose another name"
        )
    if name in host.plugins:
        raise ConfigError(
            f"a plugin named {name!r} is already installed "
            f"({host.plugins[name].distribution or 'in-process'}); choose another name"
        )
    try:
        metadata.distribution(names["distribution"])
    except metadata.PackageNotFoundError:
        pass
    else:
        raise ConfigError(
            f"a distribution {names['distribution']!r} is already installed: installing the "
            "new package would replace it; choose another name"
        )
    if util.find_spec(names["package"]) is not None:
        raise ConfigError(
            f"a Python package {names['package']!r} already exists; choose another name"
        )


def new_target_plugin(name: str, directory: Path) -> Path:
    """Create a target plugin package ``<directory>/tlkit-<name>``.

    The package has a ``pyproject.toml`` with the ``tlkit`` entry point, a target
    module implementing :class:`tlkit.types.Target`, a ``plugin.py`` registering it,
    and a test that runs :func:`tlkit.testing.check_target`.

    Args:
        name: the target name (see :func:`plugin_names`).
        directory: where to create the package folder (created if missing).

    Returns:
        The path of the new package folder.

    Raises:
        ConfigError: for a bad name, or if the package folder exists and is not empty.
        TlkitError: when ``directory`` cannot be created or written.
    """
    names = plugin_names(name)
    root = Path(directory) / names["distribution"]
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ConfigError(f"{root} already exists and is not empty; choose another --dir")
    template = resources.files("tlkit").joinpath("templates", "target")
    # written whole under a temporary name, then renamed: never a half-made package
    with atomic_directory(root, replace=root.exists()) as tmp:
        _copy(template, tmp, names)
    return root


def _copy(source: Traversable, target: Path, names: dict[str, str]) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.name == "__pycache__":
            continue
        out_name = entry.name.replace("__package__", names["package"])
        if entry.is_dir():
            _copy(entry, target / out_name, names)
        elif entry.name.endswith(".tmpl"):
            text = entry.read_text(encoding="utf-8")
            for key, value in names.items():
                text = text.replace("{{" + key + "}}", value)
            (target / out_name.removesuffix(".tmpl")).write_text(text, encoding="utf-8")
