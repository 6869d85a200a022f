"""The app compiles UMAP off the user's path: one background thread per server."""

import threading

from ui import cached


def test_the_app_warms_umap_up_once_in_a_background_thread(monkeypatch):
    from explorer import projections

    calls, done = [], threading.Event()

    def fake_warm_up(method):
        calls.append((method, threading.current_thread().name))
        done.set()

    monkeypatch.setattr(projections, "warm_up", fake_warm_up)
    monkeypatch.setenv(cached.WARM_UP_ENV, "1")
    cached.start_warm_up.clear()
    thread = cached.start_warm_up()
    assert thread is not None and thread.daemon and done.wait(10)
    assert cached.start_warm_up() is thread  # once per server, not once per page view
    assert calls == [("umap", "umap-warm-up")]
    cached.start_warm_up.clear()
    monkeypatch.setenv(cached.WARM_UP_ENV, "0")
    assert cached.start_warm_up() is None
    cached.start_warm_up.clear()
