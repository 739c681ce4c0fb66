"""The demo shop's page says "test mode" only when TEST_MODE is on."""

from checkout.config import DemoSettings
from checkout.demo import render_demo_page


def note(page: str) -> str:
    start = page.index('data-test-id="demo-mode-note">')
    return page[start : page.index("</p>", start)]


def test_the_page_says_test_mode_only_when_test_mode_is_on():
    live = DemoSettings(api_url="http://127.0.0.1:9", checkout_url="http://127.0.0.1:3001",
                        test_mode=False)  # fmt: skip
    assert "test mode" not in note(render_demo_page(live, "key_test_abc123")).lower()
    assert "no real money moves" in note(render_demo_page(live, "key_test_abc123"))
    test = live.model_copy(update={"test_mode": True})
    assert "test mode, no real money moves" in note(render_demo_page(test, "key_test_abc123"))


def test_test_mode_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("TEST_MODE", "false")
    settings = DemoSettings(api_url="http://127.0.0.1:9", checkout_url="http://127.0.0.1:3001")
    assert settings.test_mode is False
    monkeypatch.setenv("TEST_MODE", "true")
    settings = DemoSettings(api_url="http://127.0.0.1:9", checkout_url="http://127.0.0.1:3001")
    assert settings.test_mode is True
