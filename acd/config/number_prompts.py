"""Prompts that say a number (the waiting room's position and wait), checked at load.

Shape, inside the ``prompts`` section (see examples/1555.yaml)::

    prompts:
      announce_wait:
        up_to: 60                  # files for 1..60, and one "over" file beyond
        el:
          one: "Ο χρόνος αναμονής είναι περίπου ένα λεπτό."
          other: "Ο χρόνος αναμονής είναι περίπου {n} λεπτά."
          over: "Ο χρόνος αναμονής είναι πάνω από {n} λεπτά."   # {n} = up_to
        en: {one: .., other: .., over: ..}

Why the checks live here and not in the builder or the waiting room: a template that
names ``{minutes}`` instead of ``{n}``, or lacks a language, would otherwise be found by
a caller hearing the braces spelt out, or hearing English. So every text is checked when
the file loads, and a mistake is a ``ConfigError`` with file and line.

The position and the wait come as a pair: with only one of them defined, a Greek caller
would hear one sentence in Greek and the other from Asterisk's English core sounds.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from acd.config.errors import ConfigError
from acd.config.located import Fields, Located
from acd.config.model import ANNOUNCE_POSITION, ANNOUNCE_WAIT, NumberForms, NumberPrompt

#: the key that makes a prompt a number prompt
UP_TO = "up_to"
#: a limit on files per language: a few hundred renders is minutes of espeak-ng already
MAX_UP_TO = 999
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_FORMS = ("one", "other", "over")
_PAIR = (ANNOUNCE_POSITION, ANNOUNCE_WAIT)


def is_number_prompt(node: Located) -> bool:
    """A prompt with ``up_to`` says a number (the others are plain texts per language)."""
    return node.is_mapping() and UP_TO in node.mapping()


def parse_number_prompt(prompt_id: str, node: Located, languages: tuple[str, ...]) -> NumberPrompt:
    """One number prompt: ``up_to`` and, for every language, its one/other/over texts."""
    f = Fields(node, (UP_TO, *languages))
    up_to = f.int(UP_TO, minimum=1, maximum=MAX_UP_TO)
    missing = [language for language in languages if f.get(language) is None]
    if missing:
        raise node.error(f"number prompt {prompt_id!r} has no text for {', '.join(missing)}")
    texts: dict[str, NumberForms] = {}
    for language in languages:
        forms = f.require(language)
        if not forms.is_mapping():
            raise forms.error(f"a number prompt's text is a mapping of forms: {{one: .., other: .., over: ..}} "
                              f"with {{n}} where the number goes, got {forms.as_str()!r}")
        g = Fields(forms, _FORMS)
        one = g.get("one")
        texts[language] = NumberForms(
            other=_template(g.require("other"), says_number=True),
            over=_template(g.require("over"), says_number=False),
            one=_template(one, says_number=False) if one is not None else None,
        )
    return NumberPrompt(prompt_id, up_to, texts, node.line)


def _template(node: Located, *, says_number: bool) -> str:
    """A text whose only placeholder is ``{n}``; ``other`` must say it (else every number
    would sound the same), ``one`` and ``over`` may spell it out in words."""
    text = node.as_str()
    names = _PLACEHOLDER.findall(text)
    for name in names:
        if name != "n":
            raise node.error(f"unknown placeholder {{{name}}} in {text!r}: a number prompt knows only {{n}}")
    if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
        raise node.error(f"unbalanced brace in {text!r}: the number is written {{n}}")
    if says_number and not names:
        raise node.error(f"{text!r} never says the number: put {{n}} where it goes")
    return text


def check_plain_prompt(prompt_id: str, language: str, node: Located) -> None:
    """A plain prompt saying ``{n}`` was meant as a number prompt: refuse it rather than
    have espeak-ng read the braces to callers."""
    if prompt_id in _PAIR:
        raise node.error(f"{prompt_id!r} is the waiting room's number prompt: give it '{UP_TO}: N' and, per "
                         "language, one/other/over texts with {n}")
    if "{n}" in node.as_str():
        raise node.error(f"prompt {prompt_id!r} ({language}) says {{n}} but has no '{UP_TO}': "
                         "add 'up_to: N' and one/other/over forms to make it a number prompt")


def check_number_prompts(where: Located, plain: Mapping[str, Located], numbers: Mapping[str, NumberPrompt]) -> None:
    """What holds between prompts: the announcement pair, and no plain prompt named like
    one of a number prompt's files (the builder would write both into one file)."""
    defined = [prompt_id for prompt_id in _PAIR if prompt_id in numbers]
    if len(defined) == 1:
        other = next(prompt_id for prompt_id in _PAIR if prompt_id not in numbers)
        raise ConfigError(f"prompts.{defined[0]}: defined without {other!r}; a caller would hear one in its "
                          "language and the other in Asterisk's English: define both or neither",
                          where.file, numbers[defined[0]].line)
    for prompt_id, node in plain.items():
        stem, _, tail = prompt_id.rpartition("-")
        if stem in numbers and (tail.isdigit() or tail == "over"):
            raise node.error(f"prompt {prompt_id!r} has the name of a file of number prompt {stem!r}; rename it")
