"""gif_editor stands on its own: it imports nothing from vdiff (not even inside a function), has no
import circles, and takes extra tabs through Editor(panels=[...]); vdiff's Model tab plugs in there."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gif_editor"


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module a file imports, anywhere in it (functions and TYPE_CHECKING blocks included),
    relative imports resolved against gif_editor."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = "gif_editor" + (f".{base}" if base else "")
                found += [(f"{base}.{alias.name}" if not node.module else base, node.lineno) for alias in node.names]
            else:
                found.append((base, node.lineno))
    return found


def test_no_gif_editor_source_imports_vdiff():
    offenders = [f"{path.name}:{line} imports {name}" for path in sorted(PACKAGE.rglob("*.py"))
                 for name, line in _imports(path) if name.split(".")[0] == "vdiff"]
    assert offenders == []


def test_gif_editor_modules_import_each_other_without_circles():
    modules = {f"gif_editor.{p.stem}": p for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    graph = {name: {imp for imp, _ in _imports(path) if imp in modules and imp != name}
             for name, path in modules.items()}
    assert graph["gif_editor.io"] and graph["gif_editor.ops"]  # the walk does see the package's own imports

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in graph[start])

    assert [name for name in graph if reaches(name, name, {name})] == []


def test_importing_the_editor_loads_no_vdiff_and_no_torch():
    pytest.importorskip("ipywidgets")
    code = ("import sys, gif_editor, gif_editor.ui, gif_editor.cli, gif_editor.settings\n"
            "ed = gif_editor.ui.Editor()\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'vdiff', 'torch'}), list(ed.panels))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[] []", out.stdout + out.stderr[-500:]


class _NamePanel:
    """A minimal plug-in: shows the host's clip size and loads a reversed copy into it."""

    title = "Reverse"

    def __init__(self, host) -> None:
        import ipywidgets as w

        self.host = host
        self.widget = w.VBox([w.HTML("reverse the loaded GIF")])

    def run(self) -> None:
        import gif_editor

        self.host.load(gif_editor.apply(self.host.clip, [{"op": "reverse"}]), name="reversed")
        self.host.preview()


def test_a_panel_sees_the_editor_only_through_its_host():
    pytest.importorskip("ipywidgets")
    from gif_editor.panels import EditorHost
    from gif_editor.ui import Editor
    from gif_fixtures import gif_info, make_gif

    ed = Editor(make_gif(n=3, size=(60, 40), durations=[100, 200, 300]), panels=[_NamePanel])
    panel = ed.panels["Reverse"]
    assert isinstance(panel.host, EditorHost) and panel.host is ed
    titles = [ed.tabs.get_title(i) for i in range(len(ed.tabs.children))]
    assert titles[-1] == "Reverse" and ed.tabs.children[-1] is panel.widget
    ed.set(width=120)  # the editor's own operations apply to what the panel loaded
    panel.run()
    assert ed.clip.durations == [300, 200, 100] and "reversed" in ed.original_info.value
    assert gif_info(ed.result.value)["durations"] == [300, 200, 100]


def test_vdiff_composes_the_model_tab_without_loading_torch():
    pytest.importorskip("ipywidgets")
    code = ("import sys\n"
            "from vdiff.apps.model_panel import editor_with_model\n"
            "ed = editor_with_model(run_dir='runs/x', prompt='digit 3')\n"
            "p = ed.panels['Model']\n"
            "print('torch' in sys.modules, p.run.value, p.prompt.value, p.strength.value)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    from vdiff.edit import DEFAULT_STRENGTH

    assert out.stdout.split() == ["False", "runs/x", "digit", "3", str(DEFAULT_STRENGTH)], out.stdout + out.stderr[-500:]
