"""Appends one JSON line per call to $COLAB_STUB_LOG, so a test can see what the notebooks asked for."""
import json
import os


def record(call: str, **details) -> None:
    path = os.environ.get("COLAB_STUB_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"call": call, **details}) + "\n")
