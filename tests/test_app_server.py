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
