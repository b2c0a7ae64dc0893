"""The new ticket backends in `watchd.yaml`: every backend type loads, and a bad key is reported
with its file, line and key path like every other config problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchd import config
from watchd.config import ConfigError

BACKENDS = {
    "redmine": "url: https://rm.example, project: ops, api_key_file: {secret}, key_field_id: 3",
    "zammad": "url: https://zm.example, token_file: {secret}, group: Users, customer: noc@example.com",
    "jira": "url: https://x.atlassian.net, project: OPS, email: a@example.com, api_token_file: {secret}",
    "glpi": "url: https://glpi.example/apirest.php, user_token_file: {secret}",
    "znuny": "url: https://z.example/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST,"
    " username: watchd, password_file: {secret}, queue: Raw, customer: noc",
    "zendesk": "url: https://acme.zendesk.com, email: a@example.com, api_token_file: {secret}",
    "freshdesk": "url: https://acme.freshdesk.com, api_key_file: {secret}, requester: noc@example.com",
}


def write(tmp_path: Path, kind: str, params: str) -> Path:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    cfg = tmp_path / "watchd.yaml"
    cfg.write_text(
        f"host: web01\ndata_dir: {tmp_path / 'data'}\nchecks: {{}}\ntickets:\n  backends:\n"
        f"    desk: {{type: {kind}, {params.format(secret=secret)}}}\n  default: [builtin, desk]\n"
    )
    return cfg


@pytest.mark.parametrize("kind", sorted(BACKENDS))
def test_each_backend_type_loads(kind: str, tmp_path: Path) -> None:
    """A minimal configuration of each backend validates."""
    cfg = config.load(str(write(tmp_path, kind, BACKENDS[kind])))
    assert cfg.tickets.backends["desk"].type == kind


@pytest.mark.parametrize(
    ("kind", "extra", "problem"),
    [
        ("redmine", "two_way: {poll: 2s}", "tickets.backends.desk.two_way.poll: poll at most every 5s"),
        ("zendesk", "api_token: inline", "tickets.backends.desk.api_token: inline secrets are not accepted"),
        ("jira", "search_api: v3", "tickets.backends.desk.search_api: expected jql"),
        ("freshdesk", "colour: red", "tickets.backends.desk.colour: unknown key"),
        (
            "redmine",
            "two_way: {resolve: maybe}",
            "tickets.backends.desk.two_way.resolve: expected true or false",
        ),
    ],
    ids=["poll-too-often", "inline-secret", "bad-choice", "unknown-key", "bad-flag"],
)
def test_bad_keys_name_file_and_line(kind: str, extra: str, problem: str, tmp_path: Path) -> None:
    """FILE:LINE: key.path: problem, as for every other section."""
    path = write(tmp_path, kind, BACKENDS[kind] + ", " + extra.replace("{", "{{").replace("}", "}}"))
    with pytest.raises(ConfigError) as info:
        config.load(str(path))
    messages = [str(p) for p in info.value.problems]
    assert any(m.startswith(f"{path}:") and problem in m for m in messages), messages
