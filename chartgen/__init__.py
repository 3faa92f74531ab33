"""chartgen: one topology spec in, a proven Helm chart for a Redis session database out."""

__version__ = "0.1.0"
