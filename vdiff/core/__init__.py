"""vdiff's ground layer: the config and presets, sampling options, the run folder's layout, environment,
random streams, clip media and command-line pieces. Imports nothing else of vdiff."""
