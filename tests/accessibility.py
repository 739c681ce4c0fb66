"""axe-core's WCAG 2.1 A and AA rules, run in the page as it is now (axe-playwright-python
bundles axe.min.js, so nothing is fetched)."""

from axe_playwright_python.sync_playwright import Axe

WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}

_axe = Axe()


def axe_violations(page) -> list[str]:
    """One line per violated rule and element: `rule-id: html of the element`; [] when none."""
    results = _axe.run(page, options={**WCAG_21_AA, "resultTypes": ["violations"]})
    return [
        f"{violation['id']}: {node['html'][:200]}"
        for violation in results.response["violations"]
        for node in violation["nodes"]
    ]
