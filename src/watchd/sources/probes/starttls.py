"""The plain-text exchanges that lead to STARTTLS in SMTP (RFC 3207), IMAP (RFC 2595) and POP3 (STLS).

Each dialog reads bounded lines and raises StartTlsError saying which step failed; after it returns,
the caller upgrades the same connection with `StreamWriter.start_tls`.
"""

from __future__ import annotations

import asyncio

PROTOCOLS = ("smtp", "imap", "pop3")
MAX_LINE = 4096
MAX_LINES = 100


class StartTlsError(Exception):
    pass


async def _line(reader: asyncio.StreamReader) -> str:
    try:
        raw = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        got = exc.partial.decode("utf-8", errors="replace").strip()
        raise StartTlsError(f"connection closed by the server{f' after {got!r}' if got else ''}") from None
    except asyncio.LimitOverrunError:
        raise StartTlsError(f"line longer than {MAX_LINE} bytes") from None
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


async def _smtp_reply(reader: asyncio.StreamReader) -> tuple[int, list[str]]:
    """A (possibly multi-line) SMTP reply: `250-...` lines then `250 ...`."""
    lines = []
    for _ in range(MAX_LINES):
        line = await _line(reader)
        if len(line) < 3 or not line[:3].isdigit():
            raise StartTlsError(f"not an SMTP reply: {line[:80]!r}")
        lines.append(line[4:])
        if line[3:4] != "-":
            return int(line[:3]), lines
    raise StartTlsError("SMTP reply too long")


async def smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, helo_name: str) -> None:
    code, text = await _smtp_reply(reader)
    if code != 220:
        raise StartTlsError(f"SMTP greeting was {code} {' '.join(text)[:80]}")
    writer.write(f"EHLO {helo_name}\r\n".encode())
    code, text = await _smtp_reply(reader)
    if code != 250:
        raise StartTlsError(f"EHLO refused: {code} {' '.join(text)[:80]}")
    if not any(t.upper().split(" ")[0] == "STARTTLS" for t in text):
        raise StartTlsError("the SMTP server does not offer STARTTLS")
    writer.write(b"STARTTLS\r\n")
    code, text = await _smtp_reply(reader)
    if code != 220:
        raise StartTlsError(f"STARTTLS refused: {code} {' '.join(text)[:80]}")


async def imap(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, helo_name: str) -> None:
    greeting = await _line(reader)
    if not greeting.upper().startswith("* OK"):
        raise StartTlsError(f"IMAP greeting was {greeting[:80]!r}")
    writer.write(b"a1 STARTTLS\r\n")
    for _ in range(MAX_LINES):
        line = await _line(reader)
        if line.startswith("a1 "):
            if line[3:].upper().startswith("OK"):
                return
            raise StartTlsError(f"STARTTLS refused: {line[:80]!r}")
    raise StartTlsError("no answer to STARTTLS")


async def pop3(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, helo_name: str) -> None:
    greeting = await _line(reader)
    if not greeting.startswith("+OK"):
        raise StartTlsError(f"POP3 greeting was {greeting[:80]!r}")
    writer.write(b"STLS\r\n")
    answer = await _line(reader)
    if not answer.startswith("+OK"):
        raise StartTlsError(f"STLS refused: {answer[:80]!r}")


DIALOGS = {"smtp": smtp, "imap": imap, "pop3": pop3}
