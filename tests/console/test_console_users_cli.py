"""`plinth users`, the console's catalog, and the password hashing."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from plinth.cli import main
from plinth.console.catalog import MESSAGES
from plinth.console.i18n import negotiate
from plinth.store.console_users import check_password, hash_password

TEMPLATES = Path(__file__).parents[2] / "src" / "plinth" / "console" / "templates"


def test_users_create_list_passwd_disable(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path)]
    made = runner.invoke(
        main,
        ["users", "create", "ops", "--role", "admin", "--password-stdin", *base],
        input="a long enough password\n",
    )
    assert made.exit_code == 0, made.output
    short = runner.invoke(
        main, ["users", "create", "x", "--role", "admin", "--password-stdin", *base], input="s\n"
    )
    assert short.exit_code != 0 and "at least 10" in short.output
    no_tenant = runner.invoke(
        main,
        ["users", "create", "v", "--role", "viewer", "--password-stdin", *base],
        input="a long enough password\n",
    )
    assert no_tenant.exit_code != 0 and "needs a tenant" in no_tenant.output
    listed = runner.invoke(main, ["users", "list", "--format", "json", *base])
    assert '"name": "ops"' in listed.output and "password" not in listed.output
    changed = runner.invoke(
        main, ["users", "passwd", "ops", "--password-stdin", *base], input="another long one\n"
    )
    assert changed.exit_code == 0, changed.output
    assert "another long one" not in changed.output
    disabled = runner.invoke(main, ["users", "disable", "ops", *base])
    assert disabled.exit_code == 0 and "Disabled ops" in disabled.output


def test_passwords_are_scrypt_hashed() -> None:
    stored = hash_password("a long enough password")
    assert stored.startswith("scrypt$16384$8$1$") and "a long enough" not in stored
    assert check_password("a long enough password", stored)
    assert not check_password("a long enough passworD", stored)


def test_every_template_string_is_in_both_languages() -> None:
    used: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"(?<![\w.])t\('([a-z_]+\.[a-z_.0-9-]+)'", template.read_text()))
    missing = sorted(k for k in used if not k.endswith(".") and k not in MESSAGES)
    assert missing == []
    for key, (en, zh) in MESSAGES.items():
        assert en.strip() and zh.strip(), key


def test_accept_language_negotiation() -> None:
    assert negotiate("zh-CN,zh;q=0.9") == "zh-CN"
    assert negotiate("zh-TW") == "zh-CN"
    assert negotiate("en-US,zh;q=0.5") == "en"
    assert negotiate("fr-FR") == "en"
    assert negotiate(None) == "en"
