"""The online engine, the stores, sessions, reports and the CLI."""
