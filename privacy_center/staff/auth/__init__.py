"""Staff sign-in and who may do what in the console.

- ``sign_in``: the password step, the TOTP code (or enrolment) and sign-out, audited;
- ``totp``: the second factor's secret, encrypted at rest, and the codes it gives;
- ``lockout``: failures counted per member and source, a locked source refused;
- ``members``: staff administration (create, deactivate, reset, unlock, end sessions);
- ``access``: roles and the ``staff_required`` guard of every console page;
- ``views``, ``member_views``, ``forms``: the sign-in pages and the admin's members page, on the
  ``staff`` blueprint (templates in ``staff/templates/staff/auth/``);
- ``cli``: ``flask staff create`` and ``flask staff reset-password``.

Sessions themselves are kept on the server by ``privacy_center/session_records.py``, shared
with the account holders' sign-in.
"""
