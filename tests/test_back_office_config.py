"""The ``back_office`` section: units with a primary and an alternate owner, queues
mapped to units, and every mistake refused with file, line and reason."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from acd.config import ConfigError, load_config, load_config_text
from acd.config.back_office import back_office_of

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"

BASE = """\
service: {languages: [el]}
skills: {topic:a: A, topic:b: B}
queues:
  pensions: {requires: {topic:a: 1}}
  labour: {requires: {topic:b: 1}, max_wait: 60, on_max_wait: ticket}
agents:
  '11': {pin: '1234', skills: {topic:a: 3, topic:b: 3}}
"""

GOOD = """\
back_office:
  default: general
  units:
    pensions:
      title: Pensions
      primary: team:bo-pensions
      alternate: person:e.markou
      queues: [pensions]
    labour: {primary: team:bo-labour, alternate: agent:11, queues: labour}
    general: {primary: team:bo-general, alternate: person:duty-officer}
"""


def load(section: str):
    return load_config_text(BASE + textwrap.dedent(section), "bo.yaml")


def refused(section: str, marker: str) -> ConfigError:
    """Load a bad section; the error must name the file and the line holding ``marker``."""
    text = BASE + textwrap.dedent(section)
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "bo.yaml")
    error = caught.value
    expected_line = next(n for n, line in enumerate(text.splitlines(), 1) if marker in line)
    assert (error.file, error.line) == ("bo.yaml", expected_line), str(error)
    return error


def test_units_own_their_queues_and_the_default_takes_the_rest():
    office = back_office_of(load(GOOD))
    assert office is not None
    pensions = office.unit_for("pensions")
    assert pensions and (pensions.name, pensions.primary, pensions.alternate) == (
        "pensions", "team:bo-pensions", "person:e.markou")
    assert pensions.title == "Pensions" and pensions.queues == ("pensions",)
    labour = office.unit_for("labour")
    assert labour and (labour.primary, labour.alternate, labour.queues) == ("team:bo-labour", "agent:11", ("labour",))
    assert office.unit_for("a-queue-no-unit-lists").name == "general"  # type: ignore[union-attr]


def test_a_config_without_the_section_has_no_back_office():
    assert back_office_of(load("")) is None


def test_the_1555_example_has_a_unit_per_topic_and_one_for_the_violence_line():
    config = load_config(EXAMPLE)
    office = back_office_of(config)
    assert office is not None
    for queue in config.queues:
        unit = office.unit_for(queue)
        assert unit is not None and unit.primary != unit.alternate, queue
    assert office.unit_for("violence").name == "violence"  # type: ignore[union-attr]
    assert len({office.unit_for(q).name for q in config.queues}) == len(config.queues)  # type: ignore[union-attr]


def test_unknown_queue_is_refused_with_a_hint():
    error = refused(GOOD.replace("queues: [pensions]", "queues: [pension]"), "queues: [pension]")
    assert "unknown queue 'pension'" in error.reason and "did you mean 'pensions'" in error.reason


def test_a_queue_goes_to_one_unit_only():
    section = GOOD.replace("queues: labour}", "queues: [labour, pensions]}")
    error = refused(section, "queues: [labour, pensions]")
    assert "already belongs to unit 'pensions'" in error.reason


def test_the_alternate_must_not_be_the_primary():
    error = refused(GOOD.replace("alternate: person:e.markou", "alternate: team:bo-pensions"),
                    "alternate: team:bo-pensions")
    assert "alternate owner is the primary" in error.reason


def test_both_owners_are_required():
    error = refused(GOOD.replace("      alternate: person:e.markou\n", ""), "title: Pensions")  # the unit's mapping
    assert "missing required key 'alternate'" in error.reason


def test_an_agent_owner_must_be_an_agent_of_the_file():
    error = refused(GOOD.replace("alternate: agent:11", "alternate: agent:99"), "alternate: agent:99")
    assert "agent '99'" in error.reason


def test_an_owner_id_with_spaces_is_refused():
    error = refused(GOOD.replace("person:e.markou", "'E. Markou'"), "'E. Markou'")
    assert "must be an id" in error.reason


def test_unknown_default_unit_and_misspelt_keys_are_refused():
    assert "default unit 'nobody'" in refused(GOOD.replace("default: general", "default: nobody"),
                                              "default: nobody").reason
    error = refused(GOOD.replace("title: Pensions", "titel: Pensions"), "titel: Pensions")
    assert "did you mean 'title'" in error.reason


def test_a_ticket_exit_needs_a_unit_to_go_to():
    section = GOOD.replace("  default: general\n", "").replace("queues: labour}", "queues: []}")
    error = refused(section, "  labour: {requires")          # the queue's own line
    assert "queue 'labour' exits to 'ticket'" in error.reason


def test_a_section_without_units_is_refused():
    assert "no units" in refused("back_office:\n  units: {}\n", "  units:").reason
