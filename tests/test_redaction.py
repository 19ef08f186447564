"""The redactor masks declared secrets and anything that looks like a credential,
and leaves ordinary text alone."""

from __future__ import annotations

import pytest

from chaos.engine.events import FaultInjected, Finished, redacted
from chaos.redaction import Redactor, mask_credentials


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("url=http://ops:hunter2@127.0.0.1:8080/x", "url=http://ops:***@127.0.0.1:8080/x"),
        ('{"Authorization": "Bearer abc.def-123"}', '{"Authorization": "Bearer ***"}'),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic ***"),
        ("X-Api-Key: k3y", "X-Api-Key: ***"),
        ("GET /?password=abc&x=1", "GET /?password=***&x=1"),
        ("{'client_secret': 'zz'}", "{'client_secret': '***'}"),
        ("curl -H Bearer s3cr3t-t0ken-x", "curl -H Bearer ***"),
    ],
)
def test_credentials_are_masked_wherever_they_come_from(text, masked):
    assert mask_credentials(text) == masked
    assert Redactor().text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "token expired",
        "a Bearer of bad news",
        "cannot read secret file '/etc/passwd': '/etc/passwd' is outside",
        "status 200 in 12ms",
        "http://127.0.0.1:8080/health",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert mask_credentials(text) == text


def test_declared_secrets_are_masked_longest_first_in_nested_data():
    redactor = Redactor({"abc", "abcdef"})
    assert redactor.text("x abcdef y abc") == "x *** y ***"
    assert redactor.data({"k-abc": ["abcdef", 3, None]}) == {"k-***": ["***", 3, None]}


def test_events_reach_observers_redacted():
    redact = Redactor({"s3cret"}).text
    event = redacted(
        FaultInjected(1.0, "pause-s3cret", "container.pause", "web", 2.0, True), redact
    )
    assert event.step == "pause-***" and event.ends_at == 2.0
    done = redacted(Finished(3.0, "failed", ("probe s3cret failed",), None), redact)
    assert done.reasons == ("probe *** failed",)
