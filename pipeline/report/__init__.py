"""The self-contained HTML report of a stored session, and per-hand summaries."""
