"""drive.mount: `mountpoint/MyDrive` becomes a link to $COLAB_STUB_DRIVE (a folder that outlives the runtime)."""
import os
from pathlib import Path

from ._log import record


def mount(mountpoint: str, force_remount: bool = False, timeout_ms: int = 120000, readonly: bool = False) -> None:
    drive = os.environ.get("COLAB_STUB_DRIVE")
    if not drive:
        raise ValueError("the Colab stand-in needs COLAB_STUB_DRIVE (the folder that plays My Drive)")
    mydrive = Path(mountpoint) / "MyDrive"
    if mydrive.is_symlink() and not force_remount:
        print(f"Drive already mounted at {mountpoint}; to attempt to forcibly remount, "
              "call drive.mount(\"/content/drive\", force_remount=True).")
        return
    mydrive.parent.mkdir(parents=True, exist_ok=True)
    if mydrive.is_symlink():
        mydrive.unlink()
    mydrive.symlink_to(Path(drive).resolve(), target_is_directory=True)
    record("drive.mount", mountpoint=str(mountpoint))
    print(f"Mounted at {mountpoint}")


def flush_and_unmount(timeout_ms: int = 86400000) -> None:
    record("drive.flush_and_unmount")
