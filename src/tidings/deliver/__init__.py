"""Delivery: what the reader's page, private feeds and email digests share.

- :mod:`~tidings.deliver.sanitize`: the one HTML policy for article markup shown anywhere;
- :mod:`~tidings.deliver.syndication`: a page of a reader's feed as Atom 1.0 or JSON Feed 1.1;
- :mod:`~tidings.deliver.digest`: email digests (when one is due, composing it, sending it).

Nothing here imports the API or the web page; they, and the command line, call in.
"""
