"""linkify(): only http and https URLs become links, built as elements; everything else stays text."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import Server

pytestmark = pytest.mark.e2e

SCRIPT = """async (cases) => {
  const { linkify } = await import("/static/js/lib/dom.js");
  return cases.map((text) => {
    const box = document.createElement("div");
    box.append(linkify(text));
    return {
      text: box.textContent,
      links: [...box.querySelectorAll("a")].map((a) => [a.getAttribute("href"), a.textContent, a.target, a.rel]),
      elements: box.querySelectorAll("*").length,
    };
  });
}"""

CASES: dict[str, list[tuple[str, str]]] = {
    "see https://example.com/x.": [("https://example.com/x", "https://example.com/x")],
    "(http://a.example/path?q=1&r=2)": [("http://a.example/path?q=1&r=2", "http://a.example/path?q=1&r=2")],
    "two: https://one.example, https://two.example/!": [
        ("https://one.example/", "https://one.example"),
        ("https://two.example/", "https://two.example/"),
    ],
    "HTTPS://EXAMPLE.COM/Up": [("https://example.com/Up", "HTTPS://EXAMPLE.COM/Up")],
    "https://example.com/<img src=x onerror=alert(1)>": [("https://example.com/", "https://example.com/")],
    "javascript:alert(1)": [],
    "JaVaScRiPt:alert(document.cookie)": [],
    "data:text/html,<script>alert(1)</script>": [],
    "vbscript:msgbox(1)": [],
    "ftp://files.example/x": [],
    "http://": [],
    "xhttps://evil.example": [],
    "<a href='https://evil.example'>click</a>": [("https://evil.example/", "https://evil.example")],
    "plain text, no links at all": [],
}


def test_linkify_makes_only_http_links(e2e_server: Server, new_page) -> None:
    page = new_page()
    page.goto("/chat")
    results = page.evaluate(SCRIPT, list(CASES))
    for (text, expected), result in zip(CASES.items(), results, strict=True):
        assert result["text"] == text, text  # nothing is lost or interpreted as markup
        assert [(href, label) for href, label, _, _ in result["links"]] == expected, text
        assert result["elements"] == len(expected), text
        for _, _, target, rel in result["links"]:
            assert target == "_blank"
            assert "noopener" in rel.split()
