"""Running on a Ray cluster: archives of files, and the cameras of `watch`."""
