"""Benchmarks: scripts that print figures beside baselines (README, Benchmarks)."""
