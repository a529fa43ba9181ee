"""Scoring models: classification folders and end to end on annotated scenes."""
