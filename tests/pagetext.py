"""The text a person reads on a page, for tests that check wording rather than markup."""

from __future__ import annotations

from html.parser import HTMLParser

# Never read as page text: scripts and styles; a form's option list (the chosen label is read
# where the page shows it); an audit event's folded raw details; <code>, <samp> and <kbd>, which
# show commands and identifiers on purpose; and what a person typed into a text area.
SKIPPED = ("script", "style", "option", "select", "details", "code", "samp", "kbd", "textarea")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in SKIPPED:
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED:
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())
