"""Models of the extraction app."""
