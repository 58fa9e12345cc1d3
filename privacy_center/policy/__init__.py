"""Policy pages: the current policy, its versions, the comparison of two versions, their PDFs
and the static export. The texts themselves, their facts and the cookie registry are content
(``privacy_center/content/``).

- ``views.py``: the pages, their addresses (``page_url``, ``language_url``: template globals);
- ``services.py``: pages rendered once per (page, version, language), the static export's files;
- ``fastpath.py``: pre-rendered pages answered at the WSGI layer; ``pdfcache.py``: PDFs made
  ahead of time; ``changes.py``: what changed between two versions;
- ``cli.py``, ``setup.py``: ``flask policy export-static`` and the wiring.
"""
