"""The docs' parameter listings agree with the factories they describe.

Users take a component's defaults from the docs, so every listing there is checked
against the factory that the installed plugins register (the registry ``tlkit describe``
reads): each documented parameter exists, its documented default is the factory's, and
no user-settable parameter is left out. Every first-party component with parameters must
have a listing. Exceptions go in the allow-lists below, each with its reason; an entry
that is no longer needed fails the tests.

Two forms of listing are read, each under a heading that names the component (its first
backticked word, else its first word):

* a table whose header starts ``| parameter | default |``; a row may name several
  parameters (``| `n1`, `n2` | none | ... |``) with one default for all or one each,
  separated by commas;
* an inline list after ``Parameters:``, up to the end of its sentence: backticked
  entries ``name``, ``name=default`` or ``name: type = default`` (a type is checked as
  ``tlkit describe`` prints it); backticked text inside parentheses is a remark.

How a documented default is read (anything else fails, asking for one of these forms):

* ``none`` / ``None`` is None; ``true`` / ``false`` (any case) are booleans;
* ``required``: the parameter has no default;
* a number (``512``, ``1.0``, ``1e-3``) equals a numeric default of the same value,
  int or float;
* a backticked or quoted word is a string (tables use backticks, inline entries quotes);
* a grid ``2⁻⁴ … 2³``, optionally followed by ``(8 values)``, is every integer power of
  the base from the first exponent to the last: 1/16, 1/8, ..., 8.
"""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tlkit.params import HOST_PARAMETERS
from tlkit.plugins import FIRST_PARTY, PluginHost
from tlkit.registry import Component, Registry

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: The pages that list component parameters, and the kinds of component each covers.
PAGES: dict[str, tuple[str, ...]] = {
    "networks.md": ("architecture", "trainer"),
    "targets.md": ("target",),
    "probes.md": ("probe",),
}

#: Documented defaults not compared, by (kind, component, parameter): why. Only for a
#: default that the forms above cannot state; an entry whose default reads and matches is
#: reported as stale.
DEFAULT_EXCEPTIONS: dict[tuple[str, str, str], str] = {}

#: User-settable parameters a component's listing may leave out, by (kind, component,
#: parameter): why.
UNDOCUMENTED: dict[tuple[str, str, str], str] = {}

#: First-party components with user-settable parameters and no listing, by (kind,
#: component): why.
UNLISTED: dict[tuple[str, str], str] = {}

_TABLE_HEADER = re.compile(r"^\|\s*parameter\s*\|\s*default\s*\|", re.IGNORECASE)
_NAMES_CELL = re.compile(r"^`[a-z_][a-z0-9_]*`(\s*,\s*`[a-z_][a-z0-9_]*`)*$")
_INLINE_START = re.compile(r"Parameters:(\*\*)?")
_INLINE_ENTRY = re.compile(
    r"^(?P<name>[a-z_][a-z0-9_]*)(\s*:\s*(?P<type>[^=]+?))?(\s*=\s*(?P<default>.+))?$"
)
_SUPERSCRIPT = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
_GRID = re.compile(
    r"^(?P<base>\d+)(?P<lo>[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)\s*…\s*(?P=base)(?P<hi>[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)"
    r"(\s*\((?P<count>\d+) values\))?$"
)
#: "the parameter has no default", as read from the docs
REQUIRED = object()


@dataclass(frozen=True)
class Entry:
    """One documented row or inline entry.

    Attributes:
        names: the parameters it documents (a table row may name several).
        default: the default as written, or None when the entry gives none.
        type: the type as written (inline entries only), or None.
        line: its line in the page.
    """

    names: tuple[str, ...]
    default: str | None
    type: str | None
    line: int

    def default_texts(self) -> list[str | None] | None:
        """The default text of each name, or None when the counts do not match.

        A row naming several parameters gives one default for all of them or one each.
        """
        if self.default is None:
            return [None] * len(self.names)
        if len(self.names) == 1:
            return [self.default]  # read whole: a stray comma makes it unreadable
        texts: list[str | None] = list(split_top_level(self.default))
        if len(texts) == 1:
            return texts * len(self.names)
        return texts if len(texts) == len(self.names) else None


@dataclass(frozen=True)
class Listing:
    """The parameters documented for one component in one place.

    Attributes:
        page: the file name under docs/.
        line: the line where the listing starts.
        heading: the component name its heading gives.
        entries: the documented parameters, in order.
    """

    page: str
    line: int
    heading: str
    entries: tuple[Entry, ...]

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"

    def names(self) -> set[str]:
        return {name for entry in self.entries for name in entry.names}


def split_top_level(text: str) -> list[str]:
    """Split at commas outside backticks, quotes and parentheses."""
    parts, depth, quote, start = [], 0, "", 0
    for i, c in enumerate(text):
        if quote:
            quote = "" if c == quote else quote
        elif c in "`\"'":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def read_default(text: str) -> Any:
    """The value a documented default stands for (the forms in the module docstring).

    Raises:
        ValueError: for text in none of those forms.
    """
    text = text.strip()
    if text in ("none", "None"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text == "required":
        return REQUIRED
    quoted = re.fullmatch(r"`([^`]*)`|\"([^\"]*)\"|'([^']*)'", text)
    if quoted:
        return next(g for g in quoted.groups() if g is not None)
    grid = _GRID.fullmatch(text)
    if grid:
        base = int(grid["base"])
        lo, hi = (int(grid[k].translate(_SUPERSCRIPT)) for k in ("lo", "hi"))
        values = tuple(float(base) ** k for k in range(lo, hi + 1))
        if grid["count"] is not None and int(grid["count"]) != len(values):
            raise ValueError(f"{text!r} says {grid['count']} values but spans {len(values)}")
        return values
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    raise ValueError(
        f"cannot read the default {text!r}: write none, true/false, required, a number, "
        "a backticked (table) or quoted (inline) string, or a grid like 2⁻³ … 2²"
    )


def same_default(documented: Any, code: Any) -> bool:
    """Whether a documented default (from :func:`read_default`) is the code's."""
    if documented is REQUIRED or code is inspect.Parameter.empty:
        return documented is REQUIRED and code is inspect.Parameter.empty
    if documented is None or code is None:
        return documented is None and code is None
    if isinstance(documented, bool) or isinstance(code, bool):
        return isinstance(documented, bool) and isinstance(code, bool) and documented == code
    if isinstance(documented, int | float) and isinstance(code, int | float):
        # 0 documents 0.0; a grid's powers are computed, so equal up to rounding
        return math.isclose(documented, code, rel_tol=1e-12)
    if isinstance(documented, tuple) and isinstance(code, tuple | list):
        return len(documented) == len(code) and all(
            same_default(d, c) for d, c in zip(documented, code, strict=True)
        )
    return type(documented) is type(code) and documented == code


# -- reading the pages ---------------------------------------------------------------
def _cells(line: str) -> list[str]:
    # "\|" is a literal bar inside a cell (e.g. |z|)
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _heading_name(title: str) -> str:
    backticked = re.search(r"`([^`]+)`", title)
    return backticked[1] if backticked else title.split()[0]


def _inline_spans(text: str) -> list[str]:
    """Backticked spans from here to the end of the sentence, outside parentheses."""
    spans, depth, i = [], 0, 0
    while i < len(text):
        c = text[i]
        if c == "`":
            end = text.index("`", i + 1)
            if depth == 0:
                spans.append(text[i + 1 : end])
            i = end + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        sentence_ends = depth == 0 and c == "." and text[i + 1 : i + 2] in ("", " ", "\n")
        if sentence_ends or text.startswith("\n\n", i):  # or the paragraph does
            break
        i += 1
    return spans


def parse_page(page: str, text: str) -> list[Listing]:
    """Every parameter listing of one page.

    Raises:
        ValueError: for a row or an inline entry whose parameter names cannot be read.
    """
    lines = text.splitlines()
    headings: list[tuple[int, str]] = []  # (line, component name)
    listings = []
    fenced = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6}\s", line):
            headings.append((i + 1, _heading_name(line.lstrip("#").strip())))
        elif not fenced and _TABLE_HEADER.match(line):
            start, entries = i + 1, []
            i += 2  # the header and its |---| line
            while i < len(lines) and lines[i].startswith("|"):
                cells = _cells(lines[i])
                if not _NAMES_CELL.match(cells[0]):
                    raise ValueError(f"docs/{page}:{i + 1}: cannot read the names {cells[0]!r}")
                names = tuple(re.findall(r"`([^`]+)`", cells[0]))
                entries.append(Entry(names, cells[1], None, i + 1))
                i += 1
            heading = headings[-1][1] if headings else ""
            listings.append(Listing(page, start, heading, tuple(entries)))
            continue
        i += 1
    for match in _INLINE_START.finditer(text):
        at = text.count("\n", 0, match.start()) + 1
        entries = []
        for span in _inline_spans(text[match.end() :]):
            parsed = _INLINE_ENTRY.match(span.strip())
            if not parsed:
                raise ValueError(f"docs/{page}:{at}: cannot read the entry {span!r}")
            entries.append(Entry((parsed["name"],), parsed["default"], parsed["type"], at))
        heading = next((name for start, name in reversed(headings) if start < at), "")
        listings.append(Listing(page, at, heading, tuple(entries)))
    return sorted(listings, key=lambda listing: listing.line)


def all_listings() -> list[Listing]:
    return [
        listing
        for page in PAGES
        for listing in parse_page(page, (DOCS / page).read_text(encoding="utf-8"))
    ]


LISTINGS = all_listings()


# -- the checks (each returns its problems, one line each) ---------------------------
def component_of(listing: Listing, registry: Registry) -> Component:
    """The registered component a listing's heading names, among its page's kinds."""
    kinds = [k for k in PAGES[listing.page] if listing.heading in registry.names(k)]
    assert len(kinds) == 1, (
        f"{listing.where}: the heading above this parameter listing names "
        f"{listing.heading!r}, which is no registered {' or '.join(PAGES[listing.page])}"
    )
    return registry.get(kinds[0], listing.heading)


def user_parameters(component: Component) -> dict[str, Any]:
    """The parameters a user may set, with their defaults, as ``tlkit describe`` lists them."""
    host = HOST_PARAMETERS[component.kind]
    return {n: s for n, s in component.parameters().items() if n not in host}


def unknown_parameters(listing: Listing, component: Component) -> list[str]:
    """Documented parameters the factory does not take, or takes from the host."""
    specs = component.parameters()
    problems, seen = [], set()
    for entry in listing.entries:
        for name in entry.names:
            label = f"docs/{listing.page}:{entry.line}: {component.kind} {component.name!r}"
            if name in seen:
                problems.append(f"{label}: {name!r} is documented twice")
            seen.add(name)
            if name not in specs:
                problems.append(f"{label}: documents {name!r}, which its factory does not take")
            elif name in HOST_PARAMETERS[component.kind]:
                problems.append(f"{label}: documents {name!r}, which the host supplies")
    return problems


def wrong_defaults(listing: Listing, component: Component) -> list[str]:
    """Documented defaults (and inline types) that are not the factory's."""
    specs = user_parameters(component)
    problems = []
    for entry in listing.entries:
        label = f"docs/{listing.page}:{entry.line}: {component.kind} {component.name!r}"
        texts = entry.default_texts()
        if texts is None:
            problems.append(
                f"{label}: {entry.default!r} does not give one default for all of "
                f"{', '.join(entry.names)}, nor one each"
            )
            continue
        for name, text in zip(entry.names, texts, strict=True):
            spec = specs.get(name)
            if spec is None:
                continue  # unknown_parameters reports it
            if entry.type is not None and entry.type.strip() != spec.type_name():
                problems.append(
                    f"{label} {name!r}: documented type {entry.type!r}, code {spec.type_name()!r}"
                )
            if text is None or (component.kind, component.name, name) in DEFAULT_EXCEPTIONS:
                continue
            try:
                documented = read_default(text)
            except ValueError as exc:
                problems.append(f"{label} {name!r}: {exc}")
                continue
            if not same_default(documented, spec.default):
                code = "required" if spec.required else repr(spec.default)
                problems.append(
                    f"{label} {name!r}: documented default {text!r}, code default {code}"
                )
    return problems


def missing_parameters(listing: Listing, component: Component) -> list[str]:
    """User-settable parameters the listing leaves out (and not allowed to)."""
    documented = listing.names()
    return [
        f"{listing.where}: {component.kind} {component.name!r} does not document {name!r} "
        f"(default {'required' if spec.required else repr(spec.default)})"
        for name, spec in user_parameters(component).items()
        if name not in documented and (component.kind, component.name, name) not in UNDOCUMENTED
    ]


# -- the tests -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def host() -> PluginHost:
    """The installed plugins, loaded as the CLI loads them (a broken one is an error)."""
    host = PluginHost(strict=True)
    host.ensure_registered()
    return host


def _ids(listing: Listing) -> str:
    return f"{listing.page}:{listing.heading}:{listing.line}"


@pytest.mark.parametrize("listing", LISTINGS, ids=_ids)
def test_documented_parameters_exist(listing: Listing, host: PluginHost) -> None:
    problems = unknown_parameters(listing, component_of(listing, host.registry))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("listing", LISTINGS, ids=_ids)
def test_documented_defaults_are_the_code_defaults(listing: Listing, host: PluginHost) -> None:
    problems = wrong_defaults(listing, component_of(listing, host.registry))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("listing", LISTINGS, ids=_ids)
def test_listings_document_every_parameter(listing: Listing, host: PluginHost) -> None:
    problems = missing_parameters(listing, component_of(listing, host.registry))
    assert not problems, "\n".join(problems)


def test_every_first_party_component_with_parameters_is_listed(host: PluginHost) -> None:
    listed = {(c.kind, c.name) for c in (component_of(l, host.registry) for l in LISTINGS)}
    first_party = {
        name
        for name, info in host.plugins.items()
        if re.sub(r"[-_.]+", "-", info.distribution or "").lower() in FIRST_PARTY
    }
    assert first_party, "no first-party plugin is installed"
    unlisted = sorted(
        f"{c.kind} {c.name!r} ({', '.join(user_parameters(c))})"
        for c in host.registry
        if c.plugin in first_party
        and c.kind in {k for kinds in PAGES.values() for k in kinds}
        and user_parameters(c)
        and (c.kind, c.name) not in listed
        and (c.kind, c.name) not in UNLISTED
    )
    assert not unlisted, (
        "parameters documented nowhere in " + ", ".join(PAGES) + ":\n" + ("\n".join(unlisted))
    )


def stale_allowances(registry: Registry, listings: list[Listing]) -> list[str]:
    """Allow-list entries that no longer name a case needing them."""
    by_component: dict[tuple[str, str], list[Listing]] = {}
    for listing in listings:
        c = component_of(listing, registry)
        by_component.setdefault((c.kind, c.name), []).append(listing)

    def parameters(kind: str, name: str) -> dict[str, Any]:
        return user_parameters(registry.get(kind, name)) if name in registry.names(kind) else {}

    stale = []
    for kind, name, parameter in DEFAULT_EXCEPTIONS:
        spec = parameters(kind, name).get(parameter)
        texts = [
            text
            for listing in by_component.get((kind, name), [])
            for entry in listing.entries
            for n, text in zip(entry.names, entry.default_texts() or [], strict=False)
            if n == parameter and text is not None
        ]
        if spec is None or not texts:
            stale.append(
                f"DEFAULT_EXCEPTIONS: {kind} {name!r} {parameter!r}: no default documented"
            )
            continue
        for text in texts:
            try:
                needed = not same_default(read_default(text), spec.default)
            except ValueError:
                needed = True
            if not needed:
                stale.append(f"DEFAULT_EXCEPTIONS: {kind} {name!r} {parameter!r}: now matches")
    for kind, name, parameter in UNDOCUMENTED:
        listings = by_component.get((kind, name), [])
        if parameter not in parameters(kind, name) or any(parameter in l.names() for l in listings):
            stale.append(f"UNDOCUMENTED: {kind} {name!r} {parameter!r}: documented, or gone")
    for kind, name in UNLISTED:
        if (kind, name) in by_component or not parameters(kind, name):
            stale.append(f"UNLISTED: {kind} {name!r}: listed, or without parameters")
    return stale


def test_the_allow_lists_are_not_stale(host: PluginHost) -> None:
    stale = stale_allowances(host.registry, LISTINGS)
    assert not stale, "\n".join(stale)


def test_no_other_page_lists_parameters() -> None:
    """A listing on a page outside PAGES would go unchecked."""
    others = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted(DOCS.rglob("*.md"))
        if path.relative_to(DOCS).as_posix() not in PAGES
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _TABLE_HEADER.match(line) or _INLINE_START.search(line)
    ]
    assert not others, "parameter listings on pages this test does not read: " + ", ".join(others)


# -- the checker itself --------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("none", None),
        ("false", False),
        ("True", True),
        ("512", 512),
        ("1e-3", 1e-3),
        ("`relu`", "relu"),
        ('"auto"', "auto"),
        ("2⁻³ … 2²", (0.125, 0.25, 0.5, 1.0, 2.0, 4.0)),
        ("10⁻¹ … 10¹ (3 values)", (0.1, 1.0, 10.0)),
    ],
)
def test_read_default(text: str, value: Any) -> None:
    assert same_default(read_default(text), value)


@pytest.mark.parametrize(
    ("documented", "code"),
    [(0, False), (1, True), (None, 0), ("1", 1), ((1.0, 2.0), (1.0,)), (REQUIRED, None)],
)
def test_same_default_keeps_types_apart(documented: Any, code: Any) -> None:
    assert not same_default(documented, code)


@pytest.mark.parametrize("text", ["relu", "2⁻³ … 2² (8 values)", "1024 (all)"])
def test_unreadable_defaults_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        read_default(text)


#: pages with one drifted default in each form: the old step_batch default, a new budget
DRIFTED = {
    "networks.md": """
## `layer-wise`: Algorithm 1

| parameter | default | meaning |
|---|---|---|
| `split` | 0.5 | fraction in D1 |
| `n1`, `n2` | none | sizes |
| `step_batch` | 1 | step sizes evaluated together |
""",
    "probes.md": """
## `agop`

Parameters: `points: int = 4096` (a remark, `not_a_parameter`), `budget_mb: int = 32`.
""",
}
#: the same pages as they should read
CORRECT = {
    "networks.md": DRIFTED["networks.md"].replace("| 1 |", "| `auto` |"),
    "probes.md": DRIFTED["probes.md"].replace("= 32", "= 64"),
}


def test_a_drifted_default_is_reported(host: PluginHost) -> None:
    """The checks have teeth: each drifted default is reported, and nothing else."""
    problems = [
        problem
        for page, text in DRIFTED.items()
        for listing in parse_page(page, text)
        for problem in wrong_defaults(listing, component_of(listing, host.registry))
    ]
    assert len(problems) == 2, problems
    assert "'step_batch': documented default '1', code default 'auto'" in problems[0]
    assert "'budget_mb': documented default '32', code default 64" in problems[1]
    assert not [
        problem
        for page, text in CORRECT.items()
        for listing in parse_page(page, text)
        for problem in wrong_defaults(listing, component_of(listing, host.registry))
    ]


def test_unknown_and_missing_parameters_are_reported(host: PluginHost) -> None:
    page = "## `agop`\n\nParameters: `points: int = 4096`, `budget_gb: int = 1`.\n"
    (listing,) = parse_page("probes.md", page)
    component = component_of(listing, host.registry)
    assert unknown_parameters(listing, component) == [
        "docs/probes.md:3: probe 'agop': documents 'budget_gb', which its factory does not take"
    ]
    assert missing_parameters(listing, component) == [
        "docs/probes.md:3: probe 'agop' does not document 'budget_mb' (default 64)"
    ]


def test_stale_allowances_are_reported(host: PluginHost, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(DEFAULT_EXCEPTIONS, ("trainer", "layer-wise", "step_batch"), "test")
    monkeypatch.setitem(UNDOCUMENTED, ("trainer", "layer-wise", "split"), "test")
    monkeypatch.setitem(UNLISTED, ("probe", "agop"), "test")
    monkeypatch.setitem(UNLISTED, ("probe", "weight-overlap"), "test")
    listings = [listing for page, text in CORRECT.items() for listing in parse_page(page, text)]
    assert stale_allowances(host.registry, listings) == [
        "DEFAULT_EXCEPTIONS: trainer 'layer-wise' 'step_batch': now matches",
        "UNDOCUMENTED: trainer 'layer-wise' 'split': documented, or gone",
        "UNLISTED: probe 'agop': listed, or without parameters",
        "UNLISTED: probe 'weight-overlap': listed, or without parameters",
    ]


def test_a_row_with_the_wrong_number_of_defaults_is_reported(host: PluginHost) -> None:
    page = (
        "## `joint`\n\n| parameter | default |\n|---|---|\n| `steps`, `batch_size`, `lr` | 1, 2 |\n"
    )
    (listing,) = parse_page("networks.md", page)
    assert wrong_defaults(listing, component_of(listing, host.registry)) == [
        "docs/networks.md:5: trainer 'joint': '1, 2' does not give one default for all of "
        "steps, batch_size, lr, nor one each"
    ]
