"""Small builders for engine tests: a config written as YAML text, and a recorder."""
from __future__ import annotations

import textwrap

from acd.config import load_config_text
from acd.config.model import Config
from acd.engine import Engine
from acd.engine import decisions as d
from acd.engine import events as e


def make_config(queues: str, agents: str, skills: str = "", routing: str = "") -> Config:
    base_skills = "  topic:a: A\n  topic:b: B\n  lang:el: Greek\n  lang:en: English\n  type:employer: Employers\n"
    text = (
        "service: {name: test, languages: [el, en]}\n"
        "skills:\n" + base_skills + textwrap.indent(textwrap.dedent(skills), "  ")
        + "queues:\n" + textwrap.indent(textwrap.dedent(queues), "  ")
        + "agents:\n" + textwrap.indent(textwrap.dedent(agents), "  ")
        + ("routing:\n" + textwrap.indent(textwrap.dedent(routing), "  ") if routing else "")
    )
    return load_config_text(text, "<test>")


class Recorder:
    """Wraps an engine and keeps every decision, for assertions about what was decided."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.log: list[d.Decision] = []

    def __call__(self, event) -> list[d.Decision]:
        out = self.engine.handle(event)
        self.log.extend(out)
        return out

    def advance(self, now: float) -> list[d.Decision]:
        return self(e.Tick(now))

    def of(self, kind: type) -> list:
        return [x for x in self.log if isinstance(x, kind)]

    def offers(self) -> list[tuple[str, str]]:
        return [(o.call_id, o.agent_id) for o in self.of(d.OfferCall)]
