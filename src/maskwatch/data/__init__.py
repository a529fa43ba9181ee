"""Data to learn and measure from: VOC scenes, labelled folders, duplicate groups, the split, clip truths."""
