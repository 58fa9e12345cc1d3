from datetime import timedelta

from privacy_center.models import EmailToken
from privacy_center.models.types import utcnow
from privacy_center.tokens import find_token, issue_token, redeem_token, token_hash


def test_a_token_is_stored_hashed_and_used_once(db):
    secret = issue_token(
        db, purpose="sign_in", email="a@example.org", lifetime=timedelta(minutes=15)
    )
    assert len(secret) >= 43  # 32 random bytes, base64url
    stored = db.query(EmailToken).filter_by(token_hash=token_hash(secret)).one()
    assert stored.token_hash == token_hash(secret) and secret not in stored.token_hash
    assert find_token(db, purpose="sign_in", token=secret) is not None
    assert redeem_token(db, purpose="sign_in", token=secret).email == "a@example.org"
    assert redeem_token(db, purpose="sign_in", token=secret) is None
    assert find_token(db, purpose="sign_in", token=secret) is None


def test_a_token_serves_only_its_purpose_and_expires(db):
    secret = issue_token(db, purpose="download", email="a@example.org", lifetime=timedelta(days=7))
    assert redeem_token(db, purpose="sign_in", token=secret) is None
    later = utcnow() + timedelta(days=7, seconds=1)
    assert redeem_token(db, purpose="download", token=secret, now=later) is None
    assert redeem_token(db, purpose="download", token=secret) is not None


def test_unknown_or_oversized_tokens_are_refused(db):
    assert find_token(db, purpose="sign_in", token="") is None
    assert find_token(db, purpose="sign_in", token="x" * 5000) is None
    assert redeem_token(db, purpose="sign_in", token="not-a-token") is None
