"""Metric names out of PromQL, and the PromQL of the shipped dashboards and rules."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
RULE_FILES = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))

PROMQL_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
     "unless", "offset", "inf", "nan"}
)  # fmt: skip
PROMETHEUS_GENERATED = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})
"""Series Prometheus itself creates; allowed in rules next to exported names."""

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.$])([A-Za-z_:][\w:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (functions, keywords, labels, numbers excluded)."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = _GROUPING.sub("", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


def grafana_to_promql(expr: str, model: str = ".*") -> str:
    """Replace the dashboards' Grafana variables with values Prometheus accepts."""
    return expr.replace("$__rate_interval", "1m").replace("$model", model)


@dataclass(frozen=True)
class Query:
    where: str
    expr: str


def _panel_targets(panels: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for panel in panels:
        for target in panel.get("targets", []):
            found.append((str(panel.get("title")), target))
        found += _panel_targets(panel.get("panels", []))
    return found


def dashboard_queries() -> list[Query]:
    """Every panel target of every dashboard, Grafana variables left in."""
    queries = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for title, target in _panel_targets(board["panels"]):
            queries.append(Query(f"{path.name}: {title} ({target['refId']})", target["expr"]))
    return queries


def template_metric_names() -> list[tuple[str, str]]:
    """``(dashboard, metric)`` of each ``label_values(metric, label)`` variable."""
    found = []
    for path in DASHBOARDS:
        for variable in json.loads(path.read_text())["templating"]["list"]:
            query = variable.get("query")
            text = str(query.get("query") if isinstance(query, dict) else query)
            match = re.fullmatch(r"label_values\(\s*([A-Za-z_:][\w:]*)\s*,\s*\w+\s*\)", text)
            assert match, f"{path.name}: variable {variable['name']} is not label_values(...)"
            found.append((path.name, match.group(1)))
    return found


def rules() -> list[dict[str, Any]]:
    """Every rule (recording and alerting) of the shipped rule files."""
    found = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += group["rules"]
    return found


def recorded_names() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def alert_base(expr: str) -> str:
    """An alert expression without its final threshold comparison: the series it watches."""
    base, count = re.subn(r"\s*(?:<|>|==|!=|<=|>=)\s*[-+\d.e]+\s*$", "", expr.strip())
    assert count == 1, f"alert expression does not end in a threshold: {expr!r}"
    return base
