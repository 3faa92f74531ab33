"""Alerting derived from the topology: one alert list (alerts.py), rendered into the chart's
PrometheusRule and Alertmanager configuration and into promtool unit tests."""
