"""Shared by the browser tests: one headless Chromium for the session."""

from __future__ import annotations

import pytest

from _chromium import SKIP_REASON, Chromium, find_chromium


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """One headless Chromium for every browser test of the session; skips when there is none."""
    binary = find_chromium()
    if binary is None:
        pytest.skip(SKIP_REASON)
    chrome = Chromium(binary, str(tmp_path_factory.mktemp("chromium-profile")))
    yield chrome
    chrome.close()
