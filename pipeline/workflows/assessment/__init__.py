"""Scripted assessments: task protocols (TOML data), their timeline, and per-task scores."""
