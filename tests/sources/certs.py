"""Test certificates made with the openssl CLI (the `cryptography` package is not a dependency).

A private CA signs leaves with chosen validity windows (`openssl ca` accepts explicit start and end
dates, so an already expired certificate needs no clock tricks); one leaf is self-signed.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import dataclass
from pathlib import Path

CA_CONFIG = """
[ca]
default_ca = test_ca
[test_ca]
dir = {d}
database = {d}/index.txt
new_certs_dir = {d}/newcerts
serial = {d}/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
[policy_any]
commonName = supplied
"""


@dataclass(frozen=True)
class Leaf:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    ca: Path
    good: Leaf  # good.test + 127.0.0.1, valid 90 days
    expiring: Leaf  # good.test, 5 days left
    expired: Leaf  # good.test, expired in 2020
    wrong_host: Leaf  # other.test only
    self_signed: Leaf  # good.test, not from the CA


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y%m%d%H%M%SZ")


def make_pki(d: Path) -> Pki:
    (d / "newcerts").mkdir()
    (d / "index.txt").write_text("")
    (d / "serial").write_text("1000\n")
    (d / "ca.cnf").write_text(CA_CONFIG.format(d=d))
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        d / "ca.key",
        "-out",
        d / "ca.pem",
        "-days",
        "3650",
        "-subj",
        "/CN=watchd test CA",
        "-addext",
        "basicConstraints=critical,CA:true",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    now = dt.datetime.now(dt.UTC)

    def leaf(name: str, cn: str, san: str, start: dt.datetime, end: dt.datetime) -> Leaf:
        key, csr, cert, ext = (d / f"{name}{s}" for s in (".key", ".csr", ".pem", ".ext"))
        ext.write_text(f"subjectAltName={san}\nbasicConstraints=CA:false\nextendedKeyUsage=serverAuth\n")
        _openssl("req", "-new", *ec, "-keyout", key, "-out", csr, "-subj", f"/CN={cn}")
        _openssl(
            "ca",
            "-batch",
            "-notext",
            "-config",
            d / "ca.cnf",
            "-cert",
            d / "ca.pem",
            "-keyfile",
            d / "ca.key",
            "-in",
            csr,
            "-out",
            cert,
            "-startdate",
            _stamp(start),
            "-enddate",
            _stamp(end),
            "-extfile",
            ext,
        )
        return Leaf(cert, key)

    day = dt.timedelta(days=1)
    good_san = "DNS:good.test,IP:127.0.0.1"
    ss_key, ss_cert = d / "self.key", d / "self.pem"
    _openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        ss_key,
        "-out",
        ss_cert,
        "-days",
        "200",
        "-subj",
        "/CN=good.test",
        "-addext",
        f"subjectAltName={good_san}",
    )
    return Pki(
        ca=d / "ca.pem",
        good=leaf("good", "good.test", good_san, now - day, now + 90 * day),
        expiring=leaf("expiring", "good.test", good_san, now - 30 * day, now + 5 * day),
        expired=leaf(
            "expired",
            "good.test",
            good_san,
            dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
            dt.datetime(2020, 2, 1, tzinfo=dt.UTC),
        ),
        wrong_host=leaf("wrong", "other.test", "DNS:other.test", now - day, now + 90 * day),
        self_signed=Leaf(ss_cert, ss_key),
    )
