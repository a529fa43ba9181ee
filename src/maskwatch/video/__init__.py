"""Across frames: tracking faces into persons, their mask state, and events."""
