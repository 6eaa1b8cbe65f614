"""secrets.py: tokens and webhook URLs never reach output."""

from __future__ import annotations

import logging

from tui.operations.secrets import (
    MASK,
    RedactingFilter,
    describe_exception,
    redact,
    safe_url,
    secrets_from_env,
    url_secrets,
)

URL = "https://hooks.example.com/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx"


def test_redact_replaces_every_secret_longest_first():
    assert redact("token abc and abcdef", ["abc", "abcdef"]) == f"token {MASK} and {MASK}"
    assert redact("nothing here", ["secret"]) == "nothing here"
    assert redact("x", [None, ""]) == "x"
    assert redact(ValueError("bad s3cr3t"), ["s3cr3t"]) == f"bad {MASK}"
    assert redact("a-s3cr3t-b", ["s3cr3t"], mask="[hidden]") == "a-[hidden]-b"


def test_url_secrets_cover_the_pieces_error_texts_quote():
    secrets = url_secrets(URL)
    for text in (
        f"POST {URL} failed",
        "HTTPSConnectionPool(host='hooks.example.com', port=443): Max retries exceeded with url: "
        "/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx (Caused by ...)",
        "token abcdefghijklmnopqrstuvwx leaked",
        "hooks.example.com/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx",
        "https%3A%2F%2Fhooks.example.com%2Fservices%2FT0AAAAAAA%2FB0BBBBBBB%2Fabcdefghijklmnopqrstuvwx",
    ):
        out = redact(text, secrets)
        assert "abcdefghijklmnopqrstuvwx" not in out, out
    # The host alone is not a secret and stays readable.
    assert "hooks.example.com" in redact("HTTPSConnectionPool(host='hooks.example.com')", secrets)


def test_url_secrets_query_tokens_and_passwords():
    secrets = url_secrets("https://user:pa55word@hooks.example.com/hook?token=0123456789abcdef&x=1")
    out = redact("auth pa55word, token=0123456789abcdef, value 0123456789abcdef", secrets)
    assert "pa55word" not in out and "0123456789abcdef" not in out
    assert url_secrets("") == [] and url_secrets(None) == []


def test_safe_url_keeps_only_scheme_and_host():
    assert safe_url(URL) == f"https://hooks.example.com/{MASK}"
    assert safe_url("http://127.0.0.1:8080/x/y") == f"http://127.0.0.1:8080/{MASK}"
    assert safe_url("not a url") == MASK
    assert safe_url(None) == ""


def test_describe_exception_is_redacted_and_short():
    exc = ConnectionError(f"cannot reach {URL}")
    assert describe_exception(exc, url_secrets(URL)) == f"ConnectionError: cannot reach {MASK}"
    assert describe_exception(TimeoutError(), []) == "TimeoutError"


def test_redacting_filter_masks_messages_and_arguments(caplog):
    logger = logging.getLogger("tests.ops.secrets")
    filt = RedactingFilter(url_secrets(URL))
    logger.addFilter(filt)
    try:
        with caplog.at_level(logging.DEBUG, logger="tests.ops.secrets"):
            logger.warning("posting to %s", URL)
            logger.info(f"inline {URL}")
            try:
                raise RuntimeError(URL)
            except RuntimeError:
                logger.exception("failed")
    finally:
        logger.removeFilter(filt)
    assert "abcdefghijklmnopqrstuvwx" not in caplog.text
    assert f"posting to {MASK}" in caplog.text


def test_secrets_from_env_names_variables_not_values():
    env = {"HOOK": URL, "TOKEN": "tok-123456", "EMPTY": ""}
    found = secrets_from_env(["HOOK", "TOKEN", "EMPTY", "MISSING", None], environ=env)
    assert URL in found and "tok-123456" in found
    assert "/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx" in found
    assert "" not in found
