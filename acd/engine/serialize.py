"""Decisions as plain JSON-ready dicts, for the records, the live state and the API.

One shape everywhere: ``{"type": "CallQueued", "at": ..., <the decision's fields>}``;
an ``ExitAction`` becomes ``{"kind", "target"}`` and an ignored event its repr.
"""
from __future__ import annotations

from dataclasses import fields
from typing import Any

from acd.config.model import ExitAction
from acd.engine.decisions import Decision, Ignored


def decision_dict(decision: Decision) -> dict[str, Any]:
    result: dict[str, Any] = {"type": type(decision).__name__}
    for f in fields(decision):
        value = getattr(decision, f.name)
        if isinstance(value, ExitAction):
            value = {"kind": value.kind, "target": value.target}
        elif f.name == "event" and isinstance(decision, Ignored):
            value = repr(value)
        elif f.name == "requirements":
            value = dict(value)
        result[f.name] = value
    return result
