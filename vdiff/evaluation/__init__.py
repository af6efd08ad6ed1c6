"""vdiff's evaluation layer: the digit/direction judge, the metrics, the evaluator and the benchmark.
Imports the layers below it (pipelines and down)."""
