"""One-line CLI errors print the message as written: no markup, no emoji codes."""

from __future__ import annotations

import pytest
import typer

from mlserve.cli.output import fail


@pytest.mark.parametrize(
    "message",
    [
        "concurrency takes START:END:STEP, e.g. 1:32:x2",
        "install the extra: pip install 'mlserve[torch]'",
    ],
)
def test_an_error_prints_its_message_verbatim(
    message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.Exit) as exited:
        fail(f"{message}\nsecond line")

    assert exited.value.exit_code == 1
    assert capsys.readouterr().err.strip() == f"error: {message}"
