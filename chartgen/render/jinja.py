"""The one Jinja2 environment factory.

Delimiters are [[ ]] / [% %] / [# #] so that Helm's {{ }} in the templates passes through
untouched and a generated template reads like a hand-written Helm template.
"""

from __future__ import annotations

import os
from pathlib import Path

import jinja2

from chartgen import __version__
from chartgen.render.params import scalar


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between runs (keyed by each template's source checksum)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base) / "chartgen" / "jinja" / __version__
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only home: compile every time
    return jinja2.FileSystemBytecodeCache(str(folder))


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        bytecode_cache=_bytecode_cache(),
        loader=jinja2.PackageLoader("chartgen", "templates"),
        variable_start_string="[[",
        variable_end_string="]]",
        block_start_string="[%",
        block_end_string="%]",
        comment_start_string="[#",
        comment_end_string="#]",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # the output is YAML and Helm templates, not HTML
    )
    env.filters["yaml"] = scalar
    return env
