"""The app's server settings: reachable from this machine only, XSRF protection on."""

import re
import tomllib

from conftest import ROOT


def test_the_app_binds_to_this_machine_with_xsrf_protection():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert config["address"] == "127.0.0.1"
    assert config["enableXsrfProtection"] is True and config["enableCORS"] is True
    recipe = re.search(r"^app:.*\n\t(.*)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert "--server.address 127.0.0.1" in recipe and "Xsrf" not in recipe and "CORS" not in recipe


def test_a_runs_directory_that_is_a_file_is_one_error_not_an_empty_list(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    not_a_folder = tmp_path / "runs"
    not_a_folder.write_text("")
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(not_a_folder))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"The runs directory {not_a_folder} is a file, not a folder: set "
                                           "EXPLORER_RUNS_DIR to a folder and restart the app."]
