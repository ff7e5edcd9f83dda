"""Reading YAML while remembering where each value came from.

PyYAML's plain ``safe_load`` forgets line numbers, which would leave config errors
without a place. We compose the node tree instead and walk it through ``Located``
views, so every check can point at the line of the offending value.
"""
from __future__ import annotations

import builtins

import difflib
import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from acd.config.errors import ConfigError

_MISSING = object()


class Located:
    """A YAML node plus the file it came from and a readable path to it."""

    __slots__ = ("node", "file", "path")

    def __init__(self, node: yaml.Node, file: str, path: str) -> None:
        self.node = node
        self.file = file
        self.path = path

    # -- places and errors -------------------------------------------------------
    @property
    def line(self) -> int:
        return self.node.start_mark.line + 1

    def error(self, reason: str) -> ConfigError:
        return ConfigError(f"{self.path}: {reason}" if self.path else reason, self.file, self.line)

    # -- scalars -----------------------------------------------------------------
    def value(self) -> Any:
        """The plain Python value of this node (constructed by the safe loader)."""
        loader = yaml.SafeLoader("")
        try:
            return loader.construct_object(self.node, deep=True)
        except ValueError as exc:   # resolved but not buildable: 2024-13-07 looks like a date
            raise self.error(f"{self.node.value!r} cannot be read: {exc}") from None
        finally:
            loader.dispose()

    def as_str(self) -> str:
        if not isinstance(self.node, yaml.ScalarNode):
            raise self.error("expected a text value")
        value = self.value()
        if value is None:
            raise self.error("expected a text value, got nothing")
        return str(value)

    def as_ip_address(self) -> str:
        """An IP address in its normal form (Asterisk's for FastAGI, a proxy's for the
        API): no host names, since the checks compare a peer's address and a name would
        need a lookup per connection."""
        text = self.as_str()
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            raise self.error(f"not an IP address: {text!r}") from None

    def as_int(self, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.value() if isinstance(self.node, yaml.ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"expected a whole number, got {self._show()}")
        self._check_range(value, minimum, maximum)
        return value

    def as_float(self, *, minimum: float | None = None, maximum: float | None = None) -> float:
        value = self.value() if isinstance(self.node, yaml.ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(f"expected a number, got {self._show()}")
        self._check_range(float(value), minimum, maximum)
        return float(value)

    def as_bool(self) -> bool:
        value = self.value() if isinstance(self.node, yaml.ScalarNode) else None
        if not isinstance(value, bool):
            raise self.error(f"expected true or false, got {self._show()}")
        return value

    def as_choice(self, choices: tuple[str, ...] | list[str]) -> str:
        text = self.as_str()
        if text not in choices:
            hint = difflib.get_close_matches(text, choices, n=1)
            more = f"; did you mean {hint[0]!r}?" if hint else ""
            raise self.error(f"{text!r} is not one of {', '.join(choices)}{more}")
        return text

    def _check_range(self, value: float, minimum: float | None, maximum: float | None) -> None:
        if minimum is not None and value < minimum:
            raise self.error(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(f"must be at most {maximum}, got {value}")

    def _show(self) -> str:
        if isinstance(self.node, yaml.ScalarNode):
            return repr(self.node.value)
        return "a list" if isinstance(self.node, yaml.SequenceNode) else "a mapping"

    # -- collections ---------------------------------------------------------------
    def is_mapping(self) -> bool:
        return isinstance(self.node, yaml.MappingNode)

    def is_sequence(self) -> bool:
        return isinstance(self.node, yaml.SequenceNode)

    def is_null(self) -> bool:
        return isinstance(self.node, yaml.ScalarNode) and self.node.tag == "tag:yaml.org,2002:null"

    def items(self) -> Iterator[tuple[str, Located]]:
        """Key/value pairs of a mapping, refusing duplicate keys (YAML silently keeps the last)."""
        if not self.is_mapping():
            raise self.error(f"expected a mapping (key: value lines), got {self._show()}")
        seen: dict[str, int] = {}
        for key_node, value_node in self.node.value:
            key = Located(key_node, self.file, self.path).as_str()
            if key in seen:
                raise Located(key_node, self.file, self.path).error(
                    f"duplicate key {key!r} (first at line {seen[key]})"
                )
            seen[key] = key_node.start_mark.line + 1
            yield key, Located(value_node, self.file, self._child(key))

    def elements(self) -> Iterator[Located]:
        if not self.is_sequence():
            raise self.error(f"expected a list, got {self._show()}")
        for index, node in enumerate(self.node.value):
            yield Located(node, self.file, f"{self.path}[{index}]")

    def _child(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def mapping(self, allowed: tuple[str, ...] | None = None) -> dict[str, Located]:
        """The mapping as a dict, refusing keys outside ``allowed`` with a spelling hint."""
        result = dict(self.items())
        if allowed is not None:
            for key, value in result.items():
                if key not in allowed:
                    hint = difflib.get_close_matches(key, allowed, n=1)
                    more = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(allowed)}"
                    raise Located(self._key_node(key), self.file, self.path).error(f"unknown key {key!r}{more}")
        return result

    def key(self, key: str) -> Located:
        """A key of this mapping as a node of its own: errors about the name point at it."""
        return Located(self._key_node(key), self.file, self.path)

    def _key_node(self, key: str) -> yaml.Node:
        for key_node, _ in self.node.value:
            if key_node.value == key:
                return key_node
        return self.node


class Fields:
    """The keys of one config mapping, read one by one with defaults and checked for typos."""

    def __init__(self, where: Located, allowed: tuple[str, ...]) -> None:
        self.where = where
        self.values = where.mapping(allowed)

    def get(self, key: str) -> Located | None:
        node = self.values.get(key)
        if node is None or node.is_null():
            return None
        return node

    def require(self, key: str) -> Located:
        node = self.get(key)
        if node is None:
            raise self.where.error(f"missing required key {key!r}")
        return node

    def str(self, key: str, default: Any = _MISSING) -> Any:
        node = self.get(key)
        if node is None:
            return self._default(key, default)
        return node.as_str()

    def int(self, key: builtins.str, default: Any = _MISSING, **bounds: builtins.int) -> Any:
        node = self.get(key)
        if node is None:
            return self._default(key, default)
        return node.as_int(**bounds)

    def float(self, key: builtins.str, default: Any = _MISSING, **bounds: builtins.float) -> Any:
        node = self.get(key)
        if node is None:
            return self._default(key, default)
        return node.as_float(**bounds)

    def bool(self, key: builtins.str, default: Any = _MISSING) -> Any:
        node = self.get(key)
        if node is None:
            return self._default(key, default)
        return node.as_bool()

    def choice(self, key: builtins.str, choices: tuple[builtins.str, ...], default: Any = _MISSING) -> Any:
        node = self.get(key)
        if node is None:
            return self._default(key, default)
        return node.as_choice(choices)

    def _default(self, key: builtins.str, default: Any) -> Any:
        if default is _MISSING:
            raise self.where.error(f"missing required key {key!r}")
        return default


def read_yaml(path: str | Path) -> Located:
    """Parse a YAML file into a located root, turning YAML syntax errors into ConfigError."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file) from None
    return parse_yaml(text, file)


def parse_yaml(text: str, file: str = "<config>") -> Located:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"YAML syntax: {exc.problem or exc.context}", file, line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML syntax: {exc}", file) from None
    if node is None:
        raise ConfigError("the file is empty", file, 1)
    return Located(node, file, "")
