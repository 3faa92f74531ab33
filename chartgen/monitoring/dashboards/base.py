"""What every dashboard shares: the release-scoping variables and matchers, panel builders
with fixed ids and query refIds, and the deterministic JSON encoding.

A dashboard serves every release of the chart in a Grafana: the variables pick one (namespace,
then the release's <fullname>, read off the headless Services its exporters are scraped
through), and every query selects by namespace and service (or, for cAdvisor and
kube-state-metrics, pod name) as the alert rules do, so two releases never mix."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as prometheus_models

DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")

# Label matchers with Grafana variables; the services are the chart's headless Services.
NAMESPACE = 'namespace="$namespace"'
SESSIONS = f'{NAMESPACE},service="$release-redis-headless"'  # the sessions' group (DB 0)
DATA = f'{NAMESPACE},service=~"$release-(redis|cache)-headless"'  # both data groups
SENTINEL = f'{NAMESPACE},service="$release-sentinel-headless"'
ALL = f'{NAMESPACE},service=~"$release-(redis|cache|sentinel)-headless"'
PODS = f'{NAMESPACE},pod=~"$release-(redis|cache|sentinel)-[0-9]+"'  # cAdvisor, kube-state
POD = 'pod=~"$pod"'  # the pod variable (All: every pod of the release)
RATE = "$__rate_interval"
ANNOTATION = f'ALERTS{{{ALL},alertstate="firing",severity="critical"}}'

Query = tuple[str, str]  # (PromQL, legend format)


def _variables() -> list[Builder[dm.VariableModel]]:
    def query(name: str, label: str, expr: str) -> db.QueryVariable:
        return (
            db.QueryVariable(name)
            .id(name)
            .label(label)
            .datasource(DATASOURCE)
            .query(expr)
            .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(dm.VariableSort.ALPHABETICAL_ASC)
        )

    return [
        db.DatasourceVariable("datasource")
        .id("datasource")
        .label("Data source")
        .type("prometheus"),
        query(
            "namespace",
            "Namespace",
            'label_values(redis_up{service=~".+-(redis|sentinel)-headless"}, namespace)',
        ),
        # the release's <fullname>: the headless Services' names less their suffix
        query(
            "release",
            "Release",
            f'label_values(redis_up{{{NAMESPACE},service=~".+-(redis|sentinel)-headless"}}, '
            "service)",
        ).regex("/^(.+)-(?:redis|sentinel)-headless$/"),
        query("pod", "Pod", f"label_values(redis_up{{{ALL}}}, pod)")
        .multi(True)
        .include_all(True)
        .all_value(".+"),
    ]


def constant(name: str, value: str) -> db.ConstantVariable:
    """A constant (hidden, as constants are): a spec parameter the panels show."""
    return db.ConstantVariable(name).id(name).value(value)


def _target(expr: str, legend: str, ref: int, instant: bool) -> prometheus.Dataquery:
    target = (
        prometheus.Dataquery()
        .expr(expr)
        .legend_format(legend)
        .ref_id(chr(ord("A") + ref))
        .datasource(DATASOURCE)
    )
    return target.instant() if instant else target.range()


def series(
    title: str,
    description: str,
    queries: Sequence[Query],
    unit: str = "short",
    width: int = 12,
    height: int = 8,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(height)
        .legend(
            cb.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(cb.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI))
    )
    for ref, (expr, legend) in enumerate(queries):
        panel = panel.with_target(_target(expr, legend, ref, instant=False))
    return panel


def single(
    title: str,
    description: str,
    expr: str,
    legend: str = "",
    unit: str = "short",
    width: int = 6,
    height: int = 4,
    steps: Sequence[tuple[float | None, str]] = ((None, "green"),),
) -> stat.Panel:
    """A stat panel of one instant query, coloured by `steps` (value from, colour)."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(height)
        .with_target(_target(expr, legend, 0, instant=True))
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .thresholds(
            db.ThresholdsConfig()
            .mode(dm.ThresholdsMode.ABSOLUTE)
            .steps([dm.Threshold(value=value, color=color) for value, color in steps])
        )
    )


# columns of an instant table that say nothing to a reader
HIDDEN_COLUMNS = ("Time", "Value", "__name__", "instance", "namespace", "os", "process_id",
                  "redis_build_id", "run_id")  # fmt: skip


def listing(
    title: str, description: str, expr: str, width: int = 24, height: int = 8
) -> table.Panel:
    """A table of one instant query's series, one row per series, labels as columns."""
    organize = dm.DataTransformerConfig(
        id_val="organize",
        options={"excludeByName": {column: True for column in HIDDEN_COLUMNS}},
    )
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .span(width)
        .height(height)
        .show_header(True)
        .with_target(
            _target(expr, "", 0, instant=True).format(prometheus_models.PromQueryFormat.TABLE)
        )
        .with_transformation(organize)
    )


Row = tuple[str, Sequence[Builder[dm.Panel]]]


@dataclass(frozen=True)
class Board:
    """One dashboard: its file name (<name>.json), uid, title and rows of panels."""

    name: str
    uid: str
    title: str
    description: str
    rows: Sequence[Row]
    constants: Sequence[db.ConstantVariable] = ()

    def build(self) -> dm.Dashboard:
        board = (
            db.Dashboard(self.title)
            .uid(self.uid)
            .description(self.description)
            .tags(["redis", "chartgen"])
            .time("now-3h", "now")
            .refresh("1m")
            .timezone("browser")
            .tooltip(dm.DashboardCursorSync.CROSSHAIR)
            .readonly()
            .variables([*_variables(), *self.constants])
        )
        # the release's critical alerts as events on every panel's time axis
        board = board.annotation(
            db.AnnotationQuery()
            .name("Critical alerts")
            .datasource(DATASOURCE)
            .enable(True)
            .icon_color("red")
            .expr(ANNOTATION)
        )
        ids = iter(range(1, 1000))
        for title, panels in self.rows:
            row = db.Row(title).id(next(ids))
            board = board.with_row(row)
            for panel in panels:
                board = board.with_panel(_with_id(panel, next(ids)))
        return board.build()

    def json(self) -> bytes:
        """Sorted keys, fixed ids: the same spec gives the same bytes."""
        text = json.dumps(self.build(), cls=JSONEncoder, sort_keys=True, indent=2)
        return (text + "\n").encode()


def _with_id(panel: Builder[dm.Panel], panel_id: int) -> Builder[dm.Panel]:
    assert isinstance(panel, timeseries.Panel | stat.Panel | table.Panel)
    return panel.id(panel_id)
