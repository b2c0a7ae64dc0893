"""YAML loading that remembers where each key came from (file and line), for error messages."""

from __future__ import annotations

from typing import Any

import yaml


class LineDict(dict[str, Any]):
    """A mapping from YAML; `.file` and `.lines[key]` say where each key was written."""

    file: str = "?"
    line: int | None = None
    lines: dict[str, int]


# LibYAML's parser (in PyYAML's wheels) keeps the same marks, parses a 1000-check file five times
# faster and peaks lower in memory; the pure-Python one is the fallback.
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc,valid-type]
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.file = loader.name
    result.line = node.start_mark.line + 1
    result.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if key in result:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    # int() refuses more than 4300 digits with a ValueError that would escape as a traceback.
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None, None, f"integer too long ({len(node.value)} characters)", node.start_mark
        ) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _construct_timestamp(loader: _Loader, node: yaml.ScalarNode) -> Any:
    # 2026-02-30 looks like a date to YAML, and datetime refuses it with a bare ValueError.
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"not a valid date: {node.value!r} ({exc})", node.start_mark
        ) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def load_yaml(path: str) -> Any:
    """Parse one file; yaml.YAMLError carries the line of a syntax error."""
    with open(path, encoding="utf-8") as f:
        loader = _Loader(f)
        loader.name = path
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
