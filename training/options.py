"""Each training option declared once, on its own ``TrainConfig`` field.

A field's ``metadata["option"]`` is an ``Option``: its help, the form's label, the run header's
short words, its group, its limits and choices. Everything else is derived from it: the argparse
set-up of ``train`` and ``sweep`` (``add_arguments``), the New-run form's labels, fields and
defaults, the run picker's setup words, ``TrainConfig.validate``'s checks (``check``), and the
options table in docs/training-options.md (``markdown``; ``python -m training.options`` rewrites
it). Which methods read an option is declared in the methods' registry
(``training.objectives.METHODS``, each entry's ``options``). No torch here.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from training.errors import InputError

DOC = Path(__file__).resolve().parent.parent / "docs" / "training-options.md"
TABLE_START = "<!-- options table: written by `python -m training.options`, checked by tests/test_training_options.py -->"
TABLE_END = "<!-- end of the options table -->"


@dataclass(frozen=True)
class Option:
    help: str  # one sentence: --help, the form's tooltip and the options table
    label: str  # the New-run form's label (and how the form names the option in its messages)
    group: str  # the --help group and the table's section
    short: str = ""  # a method option's words in the run header, "{}" where the value goes
    choices: tuple | Callable[[], tuple] = ()  # allowed values (a callable: known only once imported)
    choice_help: Callable[[], dict] | None = None  # one line per choice, added to the help
    least: float | None = None  # the smallest value allowed
    above: bool = False  # least itself is not allowed (--epochs must be positive)
    most: float | None = None  # the largest value allowed (beyond: a typo that would run without end)
    below: bool = False  # most itself is not allowed (fractions)
    metavar: str | None = None
    flag: bool = True  # False: the command line declares it by hand (--preset, --runs-dir)

    def allowed(self) -> tuple:
        return tuple(self.choices() if callable(self.choices) else self.choices)

    def full_help(self, sep: str = "; ") -> str:
        if self.choice_help is None:
            return self.help
        return self.help + sep + sep.join(f"{name}: {text}" for name, text in self.choice_help().items())


def option(default: Any = dataclasses.MISSING, *, factory: Callable | None = None, **described) -> Any:
    """A TrainConfig field with its declaration: ``margin: float = option(1.0, help=..., ...)``."""
    metadata = {"option": Option(**described)}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def declared(cls) -> dict[str, Option]:
    """Every declared option of the dataclass ``cls``, in the order of its fields."""
    return {f.name: f.metadata["option"] for f in dataclasses.fields(cls) if "option" in f.metadata}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def kind_of(cls, name: str) -> str:
    """``int``, ``float``, ``str``, ``bool``, ``list[int]`` or ``list[str]``: the field's type, None aside."""
    annotation = str(next(f.type for f in dataclasses.fields(cls) if f.name == name)).replace(" ", "")
    return next(k for k in annotation.split("|") if k != "None")


def default_of(cls, name: str) -> Any:
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


# ---------------------------------------------------------------- the command line


def add_arguments(parser: argparse.ArgumentParser, cls, groups: dict | None = None) -> dict:
    """Add one argument per declared option of ``cls`` to ``parser``, in argument groups named
    by the options' ``group``; returns the groups, by name (``groups`` may hold some already)."""
    groups = dict(groups or {})
    for name, described in declared(cls).items():
        if described.group not in groups:
            groups[described.group] = parser.add_argument_group(described.group)
        if not described.flag:
            continue
        kind, default = kind_of(cls, name), default_of(cls, name)
        arguments: dict[str, Any] = {"default": default, "help": described.full_help()}
        if kind == "bool":
            arguments["action"] = argparse.BooleanOptionalAction
        elif kind.startswith("list["):
            arguments.update(type=_TYPES[kind[5:-1]], nargs="*" if default else "+")
        else:
            arguments["type"] = _TYPES[kind]
        if described.allowed():
            arguments["choices"] = described.allowed()
        if described.metavar:
            arguments["metavar"] = described.metavar
        groups[described.group].add_argument(flag(name), **arguments)
    return groups


_TYPES = {"int": int, "float": float, "str": str}


# ---------------------------------------------------------------- validation


def check(config) -> None:
    """The declared checks of every option of ``config``: choices, then limits. Raises InputError
    with one sentence naming the first bad option."""
    described = declared(type(config))
    for name, o in described.items():
        value, allowed = getattr(config, name), o.allowed()
        if allowed and value not in allowed:
            raise InputError(f"unknown {flag(name)} {value!r}; choose one of: {', '.join(map(str, allowed))}")
    for name, o in described.items():
        value = getattr(config, name)
        if value is None or isinstance(value, (list, bool, str)):
            continue
        _check_number(flag(name), value, o)


def _check_number(shown: str, value: float, o: Option) -> None:
    if o.least is not None and o.most is not None and o.above and o.below:
        if not o.least < value < o.most:
            raise InputError(f"{shown} must be between {o.least:g} and {o.most:g}, got {value}")
        return
    if o.least is not None:
        if o.above and not value > o.least:
            wanted = "positive" if o.least == 0 else f"more than {o.least:g}"
            raise InputError(f"{shown} must be {wanted}, got {value}")
        if not o.above and not value >= o.least:
            wanted = "0 or more" if o.least == 0 else f"at least {o.least:g}"
            raise InputError(f"{shown} must be {wanted}, got {value}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{shown} must be a finite number, got {value}")
    if o.most is not None and value > o.most:
        raise InputError(f"{shown} must be at most {o.most if isinstance(o.most, int) else f'{o.most:g}'}, "
                         f"got {value}")


# ---------------------------------------------------------------- the options table


def markdown(cls, methods: dict) -> str:
    """The options table of docs/training-options.md: one section per group, one row per option."""
    readers: dict[str, list[str]] = {}
    for method, entry in methods.items():
        for name in entry.options:
            readers.setdefault(name, []).append(method)
    lines = []
    by_group: dict[str, list[str]] = {}
    for name, o in declared(cls).items():
        by_group.setdefault(o.group, []).append(name)
    for group, names in by_group.items():
        lines += [f"### {group}", "", "| option | default | form label | read by | what it does |",
                  "| --- | --- | --- | --- | --- |"]
        for name in names:
            o = declared(cls)[name]
            default = default_of(cls, name)
            shown = ("" if default is None else " ".join(map(str, default)) if isinstance(default, list)
                     else str(default).lower() if isinstance(default, bool) else str(default))
            text = o.full_help().replace("|", "\\|")
            if o.allowed():
                text += f" ({', '.join(map(str, o.allowed()))})" if o.choice_help is None else ""
            read_by = ", ".join(readers.get(name, [])) or "every method"
            lines.append(f"| `{flag(name)}` | {f'`{shown}`' if shown else '–'} | {o.label} | {read_by} | {text} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def documented_table(text: str) -> str:
    """The options table as the doc holds it (between its two markers)."""
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    return text[start:end].strip("\n") + "\n"


def write_doc(path: Path = DOC) -> None:
    from training.config import TrainConfig
    from training.objectives import METHODS

    text = path.read_text()
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    path.write_text(text[:start] + "\n\n" + markdown(TrainConfig, METHODS) + "\n" + text[end:])


if __name__ == "__main__":
    write_doc()
    print(f"wrote the options table of {DOC}")
