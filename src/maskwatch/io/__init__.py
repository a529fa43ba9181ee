"""Where frames come from and where results go: sources, sinks, files, drawing."""
