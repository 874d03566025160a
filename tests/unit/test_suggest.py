"""Suggestion ranking and search query words (pure)."""

from __future__ import annotations

from deskchat.domain.canned import CannedMessage, Scope
from deskchat.domain.suggest import query_terms, rank_canned, stem, terms
from deskchat.services.search import _plain
from deskchat.storage.search import MARK_END, MARK_START, words


def canned(i: int, title: str, body: str) -> CannedMessage:
    return CannedMessage(i, title, body, None, "General", Scope.GLOBAL, None, None)


def test_words_are_letters_and_digits_only_so_no_query_syntax_survives() -> None:
    assert words('VPN "cert*" OR -x NEAR(a b) col:val 100%') == ["vpn", "cert", "or", "x", "near", "a", "b", "col",
                                                                 "val", "100"]
    assert words("\"' ; -- %_*") == []
    assert len(words(" ".join(f"w{i}" for i in range(100)))) == 24


def test_stems_and_stopwords() -> None:
    assert stem("printers") == "printer" and stem("printing") == "print" and stem("gas") == "gas"
    assert terms("Hello {{requester.name}}, my printer is not printing {requester_name}!") == ["printer", "print"]
    assert query_terms(["first printer", "then vpn"]) == ["vpn", "first", "printer"]  # "then" is a stopword


def test_the_canned_message_sharing_the_rare_words_comes_first() -> None:
    repository = [canned(1, "Printer paper jam", "Open tray 2 and remove the paper."),
                  canned(2, "VPN certificate renewal", "Renew the certificate in the portal."),
                  canned(3, "Generic greeting", "Hello {requester_name}, how can I help with the printer?")]
    ranked = rank_canned(terms("My printer has a paper jam"), repository)
    assert [r.canned.id for r in ranked] == [1, 3]
    assert rank_canned(terms("certificate expired"), repository)[0].canned.id == 2
    assert rank_canned([], repository) == [] and rank_canned(terms("weather"), repository) == []


def test_marked_snippets_become_plain_text_and_ranges() -> None:
    text, ranges = _plain(f"the {MARK_START}vpn{MARK_END} drops {MARK_START}again{MARK_END}")
    assert text == "the vpn drops again" and ranges == [[4, 7], [14, 19]]
    assert [text[a:b] for a, b in ranges] == ["vpn", "again"]
    assert _plain("<b>no marks</b>") == ("<b>no marks</b>", [])
