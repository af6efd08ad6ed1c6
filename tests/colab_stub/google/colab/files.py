"""files.download / files.upload as Colab's behave, without a browser."""
import os
import shutil
from pathlib import Path

from ._log import record


def download(filename: str) -> None:
    if not os.path.exists(filename):
        raise FileNotFoundError(f"Cannot find file: {filename}")  # Colab's own message
    record("files.download", path=str(Path(filename).resolve()), size=os.path.getsize(filename))


def upload(target_dir: str = "") -> dict:
    """The files in $COLAB_STUB_UPLOADS, copied into the working folder (or target_dir), as {name: bytes}."""
    source = os.environ.get("COLAB_STUB_UPLOADS")
    uploaded = {}
    for path in sorted(Path(source).iterdir()) if source else []:
        if path.is_file():
            shutil.copyfile(path, Path(target_dir or ".") / path.name)
            uploaded[path.name] = path.read_bytes()
    record("files.upload", names=sorted(uploaded))
    return uploaded
