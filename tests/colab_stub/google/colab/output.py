"""output.enable_custom_widget_manager: in Colab it switches to the ipywidgets 8 manager; here it records the call."""
from ._log import record


def enable_custom_widget_manager() -> None:
    record("output.enable_custom_widget_manager")


def disable_custom_widget_manager() -> None:
    record("output.disable_custom_widget_manager")
