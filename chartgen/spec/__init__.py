"""Loading and validating the topology spec and its environment overlays."""
