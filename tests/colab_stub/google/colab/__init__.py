"""Stand-in for Colab's `google.colab` (see tests/colab_stub/README.md): the calls the notebooks make."""
from . import drive, files, output, userdata  # noqa: F401  (Colab's package imports its submodules too)

__version__ = "0.0.0+stub"
