"""Identity documents people upload: which files are accepted, and how they are kept.

- ``checks.py``: ``check_identity_document``, the file's type from its bytes, what is refused
  whatever its name says, and the limits (``MAX_DOCUMENT_BYTES``, ``ACCEPTED_MIME_TYPES``);
- ``images.py``: JPEG and PNG decoded whole, strictly (``MAX_IMAGE_PIXELS``);
- ``pdf.py``: PDF checks, the PDF itself opened only in the sandbox (document_sandbox.py);
- ``refusals.py``: ``RejectedUpload``, whose message tells the person what to do, and the scan
  for another file hidden in an image or a PDF;
- ``storage.py``: the encrypted files (store, read, re-encrypt, delete, list).
"""
