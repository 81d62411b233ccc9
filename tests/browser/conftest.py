"""Browser tests: the application served by uvicorn on a free loopback port, against the test
database of each backend, driven by Playwright with Debian's chromium (never a downloaded
browser: `.ci/run` installs the `chromium` package)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import ViewportSize
from sqlalchemy.engine import Engine

from web_helpers import make_app

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE: ViewportSize = {"width": 360, "height": 740}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def server(engine: Engine, tmp_path: Path) -> Iterator[str]:
    """The base URL of the app (pages, API and the embedded job worker) on this backend."""
    import uvicorn

    from lumbung.config import get_settings

    data = tmp_path / "data"
    os.environ["LUMBUNG_DATA_DIR"] = str(data)
    os.environ["LUMBUNG_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    get_settings.cache_clear()
    app = make_app(engine, data)
    stop_worker = start_worker()
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(10)
    stop_worker()
    for name in ("LUMBUNG_DATA_DIR", "LUMBUNG_DATABASE_URL"):
        os.environ.pop(name, None)
    get_settings.cache_clear()


def start_worker() -> Callable[[], None]:
    """The embedded job worker on this test's queue (in its data folder), as `lumbung serve`
    starts it; returns how to stop it."""
    from lumbung.config import get_settings
    from lumbung.jobs import queue

    own = queue.JobQueue(get_settings())
    queue.set_default_queue(own)
    worker = queue.start_embedded_worker(own)

    def stop() -> None:
        worker.stop(timeout=30)
        queue.set_default_queue(None)

    return stop


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go (LUMBUNG_SCREENSHOTS to keep them)."""
    folder = Path(os.environ.get("LUMBUNG_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
