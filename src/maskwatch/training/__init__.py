"""Training the mask classifier: data loading, leakage-safe split, model, export."""
