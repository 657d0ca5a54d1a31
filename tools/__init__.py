"""Developer tools run from the Makefile (no app imports them)."""
