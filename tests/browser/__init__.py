"""Browser tests (Playwright in Debian chromium); a package so its module names stay apart from tests/."""
