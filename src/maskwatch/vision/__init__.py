"""Per image: face detector, face crops, mask classifier, and the two together."""
