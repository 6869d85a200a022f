"""The committed bundle of the map element (static/map-element.js) is what its source and
lockfile build: `npm ci` into a temporary copy of ui/map_element/frontend, build, compare bytes.

Needs node and npm and the npm registry (or npm's cache); skipped where node is absent, but
never under CI=true."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "ui" / "map_element" / "frontend"
BUNDLE = ROOT / "static" / "map-element.js"
CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")


def test_every_js_dependency_is_pinned_to_one_version():
    package = json.loads((FRONTEND / "package.json").read_text())
    lock = json.loads((FRONTEND / "package-lock.json").read_text())
    for group in ("dependencies", "devDependencies"):
        for name, version in package.get(group, {}).items():
            assert version[0].isdigit(), f"{name} is pinned loosely ({version}): write the exact version"
            assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_the_committed_bundle_matches_a_fresh_build_from_the_lockfile(tmp_path):
    if not (shutil.which("node") and shutil.which("npm")):
        if CI:
            pytest.fail("node and npm are needed to check the map element's bundle")
        pytest.skip("node and npm are not installed")
    work = tmp_path / "frontend"
    shutil.copytree(FRONTEND, work, ignore=shutil.ignore_patterns("node_modules"))
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"], cwd=work, check=True,
                   capture_output=True, timeout=600)
    out = tmp_path / "map-element.js"
    subprocess.run(["node", "build.mjs", str(out)], cwd=work, check=True, capture_output=True, timeout=300)
    assert out.read_bytes() == BUNDLE.read_bytes(), (
        "static/map-element.js differs from a fresh build of ui/map_element/frontend: run `make frontend` "
        "and commit the bundle")
