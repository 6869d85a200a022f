"""The view in the address bar (``st.query_params``), so that a reload returns to the same view and
a copied link opens it in another browser.

A page calls ``from_url`` before it draws a widget: on the first run of a browser session the
URL's value, where it is one the widget offers, becomes the widget's state. After the widget, the
page calls ``to_url`` with what the widget now shows. The page itself is already in the URL's path
(``/compare``, ``/new``, ``/seeds``).
"""

from __future__ import annotations

from typing import Callable, Iterable

import streamlit as st

_CONSUMED = "_url_consumed"  # the URL's parameters already read in this browser session
_PROBLEMS = "_url_problems"  # what the link asked for that this app could not show


def _unread(name: str) -> str | None:
    """The URL's ``name`` the first time this browser session asks for it; None after that."""
    consumed = st.session_state.setdefault(_CONSUMED, set())
    if name in consumed:
        return None
    consumed.add(name)
    return st.query_params.get(name)


def from_url(name: str, key: str, allowed: Iterable | None = None,
             decode: Callable[[str], object] = str, what: str | None = None) -> None:
    """Once per browser session: set widget ``key`` to the URL's ``name``, decoded, where it is
    among ``allowed`` (None: any value). A value that is not is left out, and ``link_problems``
    says so in one line (``what`` names it: "run", "epoch")."""
    raw = _unread(name)
    if raw is None:
        return
    try:
        value = decode(raw)
    except (TypeError, ValueError):
        value = None
    choices = None if allowed is None else list(allowed)
    if value is None or (choices is not None and value not in choices):
        st.session_state.setdefault(_PROBLEMS, []).append(
            f"The link asks for {what or name} “{raw}”, which is not here; showing the default instead.")
        return
    st.session_state[key] = value


def from_url_list(name: str, key: str, allowed: Iterable, what: str | None = None,
                  decode: Callable[[str], object] = str) -> None:
    """``from_url`` for a multiselect: the URL holds its values joined by commas. Values that are
    not among ``allowed`` are left out, and said so."""
    raw = _unread(name)
    if raw is None:
        return
    choices = list(allowed)
    values, missing = [], []
    for part in filter(None, raw.split(",")):
        try:
            value = decode(part)
        except (TypeError, ValueError):
            value = None
        (values if value in choices else missing).append(value if value in choices else part)
    if missing:
        st.session_state.setdefault(_PROBLEMS, []).append(
            f"The link asks for {what or name} {', '.join(f'“{m}”' for m in missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not here.")
    if values:
        st.session_state[key] = values


def to_url(name: str, value) -> None:
    """Put ``value`` in the URL as ``name`` (a list joined by commas; None or empty removes it).
    Writing the URL does not rerun the page."""
    if isinstance(value, (list, tuple)):
        text = ",".join(map(str, value)) if value else None
    else:
        text = None if value is None else str(value)
    if text is None:
        if name in st.query_params:
            del st.query_params[name]
    elif st.query_params.get(name) != text:
        st.query_params[name] = text


def number(kind, least, most):
    """A decoder for a number between ``least`` and ``most`` (a slider's range)."""
    def decode(text: str):
        value = kind(float(text))
        if not least <= value <= most:
            raise ValueError(text)
        return value
    return decode


MAX_SELECTION = 50  # a selection of more points is not put in the URL


def points_text(points) -> str | None:
    """A small selection as "test:12,shifted:40"; None for none or too many."""
    if not points or len(points) > MAX_SELECTION:
        return None
    return ",".join(f"{split}:{row}" for split, row in points)


def points_from_url(name: str, splits) -> list[tuple[str, int]] | None:
    """Once per browser session: the selection the URL holds, its points on ``splits`` only."""
    points = []
    for part in filter(None, (_unread(name) or "").split(",")):
        split, _, row = part.partition(":")
        if split in splits and row.isdigit():
            points.append((split, int(row)))
    return points or None


def link_problems(slot=None) -> None:
    """One warning line per thing the link asked for that is not here (shown once), in ``slot``
    (an ``st.empty()`` placed near the top before the widgets read the link) or here."""
    problems = st.session_state.pop(_PROBLEMS, [])
    if not problems:
        return
    with (slot.container() if slot is not None else st.container()):
        for problem in problems:
            st.warning(problem, icon=":material/link_off:")
