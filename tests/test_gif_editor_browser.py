"""The editor in a real browser: Voila serves a notebook showing gif_editor.ui.Editor on
127.0.0.1 and headless Debian Chromium (driven by Playwright) uploads a GIF, moves the width
slider, clicks Preview and reads the edited animation back out of the page; a second test moves
the new controls (crop to a shape, every n-th frame, text with outline and box) and watches the
live preview follow them without a click, then uploads a video and decodes it.

Chromium comes from apt (scripts/test.sh installs it); Playwright's own browser download
(``playwright install``) needs a CDN that the development and CI machines cannot reach, so the
test launches /usr/bin/chromium through executable_path.
"""
from __future__ import annotations

import base64
import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from gif_fixtures import make_gif

pytestmark = [pytest.mark.browser]

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)  # polling the port, not waiting for the page
    raise TimeoutError("voila did not open its port")


@contextlib.contextmanager
def _voila(tmp_path: Path, code: str):
    """Voila serving a one-cell notebook that runs ``code`` on 127.0.0.1; yields the page's URL."""
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("voila")
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(f"import sys\nsys.path.insert(0, {str(REPO)!r})\n{code}"))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "editor.ipynb"
    nbformat.write(nb, path)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = open(tmp_path / "voila.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "voila", str(path), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
         "--Voila.tornado_settings={'allow_origin': '*'}", "--ServerApp.token=", "--show_tracebacks=True"],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env=env,
    )
    try:
        _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def voila_url(tmp_path):
    with _voila(tmp_path, "from gif_editor.ui import Editor\nEditor(preview_max_side=480)") as url:
        yield url


def _read_image(page, selector: str) -> bytes:
    """The bytes behind an <img> on the page (a blob: or data: URL), fetched by the page itself."""
    encoded = page.evaluate("""async (selector) => {
        const src = document.querySelector(selector).src;
        const buf = new Uint8Array(await (await fetch(src)).arrayBuffer());
        let s = ''; for (const b of buf) s += String.fromCharCode(b);
        return btoa(s);
    }""", selector)
    return base64.b64decode(encoded)


def _wait_for_image(page, selector: str, check, timeout: float = 90) -> Image.Image:
    """Poll the <img> until its GIF passes ``check`` (the live preview lands a moment after a change)."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            im = Image.open(io.BytesIO(_read_image(page, selector)))
            if check(im):
                return im
            last = (im.size, getattr(im, "n_frames", 1))
        except Exception as exc:  # noqa: BLE001 - an image mid-update reads as garbage; try again
            last = exc
        page.wait_for_timeout(250)
    raise AssertionError(f"{selector} never passed the check; last seen {last}")


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install chromium)")
def test_upload_slider_preview_in_a_real_browser(voila_url, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    gif = tmp_path / "clip.gif"
    gif.write_bytes(make_gif(n=6, size=(120, 80), durations=100))

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(90_000)  # the first kernel start in Voila takes a while on 2 busy cores
            page.goto(voila_url)
            # ipywidgets 8 keeps FileUpload's <input type=file> out of the DOM: go through the chooser.
            with page.expect_file_chooser() as chooser:
                page.locator("button.gif-editor-upload").click()
            chooser.value.set_files(str(gif))
            # The kernel decodes the upload and shows the original: wait for its image.
            page.wait_for_selector(".gif-editor-original[src^='blob:'], .gif-editor-original[src^='data:']")
            page.wait_for_function("() => document.querySelector('.gif-editor-status').innerText.includes('loaded')")

            handle = page.locator(".gif-editor-width .noUi-handle")
            handle.focus()
            for _ in range(20):
                handle.press("ArrowLeft")
            page.wait_for_function(
                "() => document.querySelector('.gif-editor-width .widget-readout').innerText.trim() === '100'")
            # The page throttles slider messages, so the kernel may still be on 102 when the readout
            # says 100 (seen once: a 102x68 preview). Keep-aspect makes the kernel set the height:
            # 67 on the page means the kernel has width 100.
            page.wait_for_function(
                "() => document.querySelector('.gif-editor-height .widget-readout').innerText.trim() === '67'")

            page.locator(".gif-editor-preview").click()
            page.wait_for_function("() => document.querySelector('.gif-editor-status').innerText.includes('preview')")
            page.wait_for_selector(".gif-editor-result[src^='blob:'], .gif-editor-result[src^='data:']")
            # The live preview may have rendered an in-between width first: wait for the final one.
            im = _wait_for_image(page, ".gif-editor-result", lambda im: im.size == (100, 67))
            data = _read_image(page, ".gif-editor-result")
        finally:
            browser.close()

    assert data[:6] in (b"GIF89a", b"GIF87a")
    assert im.n_frames == 6  # animated, every frame kept
    assert im.size == (100, 67)  # width moved 120 -> 100 in the page; keep-aspect set the height


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install chromium)")
def test_live_preview_follows_the_new_controls_and_a_video_in_a_real_browser(tmp_path):
    """No Preview click: the Edited pane shows the GIF on load and follows crop-to-shape, every n-th frame
    and outlined, boxed text as they change; then a video upload is probed, decoded and shown."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from test_gif_editor_video import grey_video

    gif = tmp_path / "clip.gif"
    gif.write_bytes(make_gif(n=6, size=(120, 80), durations=100))
    video = grey_video(tmp_path / "phone.mp4", seconds=2)
    code = f"from gif_editor.ui import Editor\nEditor({str(gif)!r}).widget"
    with _voila(tmp_path, code) as url, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(90_000)
            page.goto(url)
            page.wait_for_selector(".gif-editor-result[src^='blob:'], .gif-editor-result[src^='data:']")
            start = _wait_for_image(page, ".gif-editor-result", lambda im: im.size == (120, 80))
            assert start.n_frames == 6  # the clip shows from the start, not a broken image

            page.locator(".gif-editor-aspect select").select_option("1:1")
            _wait_for_image(page, ".gif-editor-result", lambda im: im.size == (80, 80))

            page.locator(".lm-TabBar-tab", has_text="Time").click()
            handle = page.locator(".gif-editor-every-nth .noUi-handle")
            handle.focus()
            handle.press("ArrowRight")  # keep every 2nd frame
            thinned = _wait_for_image(page, ".gif-editor-result", lambda im: im.n_frames == 3 and im.size == (80, 80))
            thinned.seek(0)
            assert thinned.info["duration"] == 200  # the dropped frames' time went to the kept ones

            page.locator(".lm-TabBar-tab", has_text="Text").click()
            page.locator(".gif-editor-text textarea").fill("hello\nworld")
            page.locator(".gif-editor-text textarea").press("Tab")  # a Textarea syncs when it loses focus
            outline = page.locator(".gif-editor-outline .noUi-handle")
            outline.focus()
            outline.press("ArrowRight")
            outline.press("ArrowRight")
            page.locator(".gif-editor-box input[type=checkbox]").check()

            def dark_box(im):
                im.seek(0)
                grey = im.convert("L")
                return im.n_frames == 3 and sum(1 for v in grey.getdata() if v < 20) > 300
            _wait_for_image(page, ".gif-editor-result", dark_box)
            page.wait_for_function(
                "() => document.querySelector('.gif-editor-result-info').innerText.includes('80x80, 3 frames')")

            with page.expect_file_chooser() as chooser:
                page.locator("button.gif-editor-upload").click()
            chooser.value.set_files(str(video))
            page.wait_for_function(
                "() => document.querySelector('.gif-editor-video-info').innerText.includes('-> 30 frames of 160x90')")
            page.locator(".gif-editor-decode").click()
            decoded = _wait_for_image(page, ".gif-editor-original", lambda im: im.n_frames == 30)
            status = page.locator(".gif-editor-status").inner_text()
        finally:
            browser.close()
    assert decoded.size == (160, 90) and "phone.mp4" in status


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install chromium)")
def test_model_panel_regenerates_in_a_real_browser(tmp_path):
    """The Model tab: type a prompt, Run model; the live x0 preview and the Editor's preview show the result."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from conftest import write_moving_square_pairs
    from vdiff.train import train

    run = train("smoke", write_moving_square_pairs(tmp_path / "pairs"), tmp_path / "run", max_steps=4)
    gif = tmp_path / "clip.gif"
    gif.write_bytes(make_gif(n=6, size=(40, 32), durations=100))
    code = (f"from vdiff.apps.model_panel import editor_with_model\ned = editor_with_model({str(gif)!r})\n"
            f"ed.panels['Model'].set(run={str(run)!r}, steps=3)\ned.widget")
    with _voila(tmp_path, code) as url, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(120_000)  # first kernel start, then torch and the run load on 2 busy cores
            page.goto(url)
            page.wait_for_selector(".gif-editor-original[src^='blob:'], .gif-editor-original[src^='data:']")
            page.locator(".lm-TabBar-tab", has_text="Model").click()
            page.locator(".model-panel-prompt input").fill("square moving up")
            page.locator(".model-panel-prompt input").press("Enter")  # Text widgets sync on change
            page.locator(".model-panel-start").click()
            page.wait_for_function(
                "() => document.querySelector('.model-panel-status').innerText.includes('done')")
            preview = _read_image(page, ".model-panel-preview")
            result = _read_image(page, ".gif-editor-result")
            status = page.locator(".gif-editor-status").inner_text()
        finally:
            browser.close()

    with Image.open(io.BytesIO(preview)) as im:
        assert im.n_frames == 4 and im.size[0] >= 16  # the smoke run's 4 frames, enlarged
    with Image.open(io.BytesIO(result)) as im:
        assert im.n_frames == 4 and im.size == (40, 32)  # re-timed to the run's 4 frames, the input's size back
    assert "preview" in status
