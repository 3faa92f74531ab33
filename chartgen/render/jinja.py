"""The one Jinja2 environment factory.

Delimiters are [[ ]] / [% %] / [# #] so that Helm's {{ }} in the templates passes through
untouched and a generated template reads like a hand-written Helm template.
"""

from __future__ import annotations

import jinja2

from chartgen.render.params import scalar


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
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
