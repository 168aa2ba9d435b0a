"""The one reading of text and dates for the whole project.

* :func:`html_to_text`: an HTML fragment or page → plain paragraphs (bodies, summaries, the
  text of content shown in feeds and pages); :func:`text_paragraphs` tidies text that is
  already plain;
* :func:`clean_text`: titles and summaries freed of the escapes real feeds leave in them
  (entities escaped twice or missing their ``&``, backslash escapes, stray tags);
* :func:`parse_date`: ISO 8601, RFC 822 and its variants, numeric and written dates →
  aware UTC.

This package imports nothing else of Tidings, so every stage can use it.
"""

from tidings.text.clean import clean_text
from tidings.text.dates import parse_date
from tidings.text.markup import html_to_text, squash, text_paragraphs

__all__ = ["clean_text", "html_to_text", "parse_date", "squash", "text_paragraphs"]
