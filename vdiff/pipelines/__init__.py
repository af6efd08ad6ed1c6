"""vdiff's pipelines: a trained model ready to use (loading, generation, edits, saving and sharing).
Imports the layers below (core, models, diffusion, training's weights reader); importing it loads no torch."""
