"""vdiff's application layer: what composes the model with notebooks and the GIF editor (Colab helpers,
plots, the editor's Model panel). It imports the layers below it; nothing below imports it."""
