"""Template inheritance and host lists resolved as Nagios Core 4 resolves them."""

from __future__ import annotations

from watchd.migrate.nagios_objects import Objects, resolve
from watchd.migrate.nagios_parse import parse_objects


def objects(text: str) -> Objects:
    return resolve(parse_objects(text, "o.cfg").objects)


HOSTS = "".join(f"define host {{\nhost_name {h}\naddress 10.0.0.{i}\n{extra}}}\n" for i, (h, extra) in enumerate(  # noqa: E501
    [("a", "hostgroups g1\n"), ("b", "hostgroups g1,g2\n"), ("c", "hostgroups g2\n"), ("d", "")]
)) + "define hostgroup {\nhostgroup_name g1\n}\ndefine hostgroup {\nhostgroup_name g2\n}\n"  # fmt: skip


def test_leftmost_template_wins_and_register_0_is_only_a_template() -> None:
    """`use t1,t2`: a directive both set comes from t1; templates themselves are not objects."""
    o = objects(
        "define host {\nname t1\ncheck_interval 1\nregister 0\n}\n"
        "define host {\nname t2\ncheck_interval 2\nmax_check_attempts 7\nregister 0\n}\n"
        "define host {\nuse t1,t2\nhost_name h\n}\n"
    )
    assert list(o.of("host")) == ["h"]
    h = o.of("host")["h"]
    assert (h.get("check_interval"), h.get("max_check_attempts")) == ("1", "7")
    assert o.templates == 2


def test_additive_inheritance_and_null() -> None:
    """`+` appends to the inherited list, through several levels; `null` drops the inherited value."""
    o = objects(
        "define host {\nname base\nhostgroups g0\nregister 0\n}\n"
        "define host {\nname mid\nuse base\nhostgroups +g1\nregister 0\n}\n"
        "define host {\nuse mid\nhost_name plus\nhostgroups +g2\n}\n"
        "define host {\nuse mid\nhost_name plain\nhostgroups g9\n}\n"
        "define host {\nuse mid\nhost_name none\nhostgroups null\n}\n"
        "define host {\nuse mid\nhost_name inherits\n}\n"
    )
    got = {n: o.of("host")[n].items("hostgroups") for n in ("plus", "plain", "none", "inherits")}
    assert got == {"plus": ["g0", "g1", "g2"], "plain": ["g9"], "none": [], "inherits": ["g0", "g1"]}


def test_an_important_template_check_command_overrides_the_service() -> None:
    """A template check_command starting with `!` beats the service's own."""
    o = objects(
        HOSTS + "define service {\nname t\ncheck_command !check_a\nregister 0\n}\n"
        "define service {\nuse t\nhost_name a\nservice_description s\ncheck_command check_b\n}\n"
    )
    assert o.services[0].obj.get("check_command") == "check_a"


def test_host_lists_with_wildcard_exclusions_and_groups() -> None:
    """`*`, `!host` and `!group` apply across host_name and hostgroup_name, as one reject list."""
    o = objects(
        HOSTS
        + "define service {\nhost_name *,!d\nservice_description all-but-d\ncheck_command x\n}\n"
        + "define service {\nhostgroup_name g1,!g2\nservice_description g1-not-g2\ncheck_command x\n}\n"
        + "define service {\nhost_name c\nhostgroup_name g1\nservice_description c-and-g1\ncheck_command x\n}\n"  # noqa: E501
        + "define service {\nhost_name a,b\nhostgroup_name !g2\nservice_description a-b-not-g2\ncheck_command x\n}\n"  # noqa: E501
    )
    got: dict[str, list[str]] = {}
    for inst in o.services:
        got.setdefault(inst.description, []).append(inst.host)
    assert {k: sorted(v) for k, v in got.items()} == {
        "all-but-d": ["a", "b", "c"],
        "g1-not-g2": ["a"],
        "c-and-g1": ["a", "b", "c"],
        "a-b-not-g2": ["a"],
    }


def test_nested_groups_and_members_from_both_sides() -> None:
    """A group's members come from `members`, from hosts' `hostgroups`, and from nested groups."""
    o = objects(HOSTS + "define hostgroup {\nhostgroup_name outer\nmembers d\nhostgroup_members g2\n}\n")
    assert sorted(o.hostgroup_members["outer"]) == ["b", "c", "d"]
    assert o.host_groups["b"] == ["g1", "g2", "outer"]


def test_a_host_name_service_beats_a_hostgroup_one() -> None:
    """Two definitions of host/description: the one naming the host wins, the other is reported."""
    o = objects(
        HOSTS + "define service {\nhostgroup_name g1\nservice_description s\ncheck_command from_group\n}\n"
        "define service {\nhost_name a\nservice_description s\ncheck_command from_host\n}\n"
    )
    a = next(i for i in o.services if i.host == "a")
    assert a.obj.get("check_command") == "from_host"
    assert [i.obj.get("check_command") for i in o.services if i.host == "b"] == ["from_group"]


def test_template_problems_are_reported() -> None:
    """A missing template and a loop of templates are findings, not crashes."""
    o = objects(
        "define host {\nname x\nuse y\nregister 0\n}\ndefine host {\nname y\nuse x\nregister 0\n}\n"
        "define host {\nuse x,nope\nhost_name h\n}\n"
    )
    messages = sorted(f"{p.subject}: {p.message}" for p in o.problems)
    assert messages == ["host use nope: no such template", "host use x: templates use each other in a loop"]
