"""Post-mortem directives of the living and requests of heirs (French law 78-17, art. 85).

- ``services.py``: directives recorded, changed, withdrawn, certified and verified;
- ``handling.py``: what staff need to handle an heir's request (who may act, what to release);
- ``delivery.py``: the released data sent to the requester as an encrypted, single-use download;
- ``views.py``, ``forms.py``, ``setup.py``: the holder's pages and the public form of heirs.
"""
