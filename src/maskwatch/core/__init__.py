"""The domain at the bottom: states, faces, zones, frames, events, their records and the user's errors."""
