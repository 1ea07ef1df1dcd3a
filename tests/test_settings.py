"""Settings: flags over environment over plinth.toml over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from plinth.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("PLINTH_PORT", "PLINTH_DATA_DIR", "PLINTH_LLAMACPP__PARALLEL_SLOTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLINTH_CONFIG", str(tmp_path / "plinth.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.host == "127.0.0.1" and settings.port == 8000
    assert settings.data_dir == tmp_path / "xdg" / "plinth"
    assert (
        settings.resolved_database_url == f"sqlite:///{tmp_path / 'xdg' / 'plinth' / 'plinth.db'}"
    )


def test_precedence_flag_env_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "plinth.toml").write_text(
        'port = 7000\nlog_level = "warning"\n[llamacpp]\nparallel_slots = 3\n'
    )
    settings = load_settings()
    assert (settings.port, settings.log_level, settings.llamacpp.parallel_slots) == (
        7000,
        "warning",
        3,
    )
    monkeypatch.setenv("PLINTH_PORT", "7100")
    monkeypatch.setenv("PLINTH_LLAMACPP__PARALLEL_SLOTS", "5")
    settings = load_settings()
    assert (settings.port, settings.llamacpp.parallel_slots) == (7100, 5)
    assert load_settings(port=7200, host=None).port == 7200  # None = flag not given


def test_data_dir_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLINTH_DATA_DIR", str(tmp_path / "d"))
    assert load_settings().data_dir == tmp_path / "d"


def test_invalid_values_and_unknown_keys_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        load_settings(port=70000)
    (tmp_path / "plinth.toml").write_text("prot = 1\n")
    with pytest.raises(ValidationError):
        load_settings()


def _readme_toml(heading: str) -> str:
    """The first ```toml block after ``heading`` in the README: the docs must load."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme[readme.index(heading) :]
    start = section.index("```toml\n") + len("```toml\n")
    return section[start : section.index("```", start)]


def test_readme_deployments_example_loads(tmp_path: Path) -> None:
    (tmp_path / "plinth.toml").write_text(_readme_toml("## Upstreams and routing"))
    settings = load_settings()
    local, cloud = settings.deployments
    assert (local.id, local.engine, local.locality) == ("assistant@local", "llamacpp", "local")
    assert (cloud.id, cloud.target_model, cloud.priority) == (
        "assistant@api.deepseek.com",
        "deepseek-chat",
        1,
    )


def test_readme_privacy_example_loads(tmp_path: Path) -> None:
    (tmp_path / "plinth.toml").write_text(_readme_toml("## Privacy"))
    settings = load_settings()
    policy = settings.privacy.policies["hr"]
    assert settings.privacy.default_policy == "hr"
    assert policy.decide(["EMAIL"]) == "redact"
    assert policy.decide(["IPV4"]) == "allow"
    assert policy.decide(["EMAIL", "CN_RESIDENT_ID"]) == "local_only"
    assert policy.decide(["PRIVATE_KEY", "CN_RESIDENT_ID"]) == "block"


def test_deployment_errors_name_the_field(tmp_path: Path) -> None:
    (tmp_path / "plinth.toml").write_text('[[deployments]]\nmodel = "x"\nengine = "openai"\n')
    with pytest.raises(ValidationError, match="needs a base_url"):
        load_settings()


def test_duplicate_deployment_ids_are_refused(tmp_path: Path) -> None:
    one = '[[deployments]]\nmodel = "x"\nbase_url = "http://a/v1"\n'
    (tmp_path / "plinth.toml").write_text(one + one)
    with pytest.raises(ValidationError, match="two deployments have the id 'x@a'"):
        load_settings()


_KEYED = """
[[deployments]]
model = "m"
base_url = "https://evil.example/v1"
api_key_env = "{name}"
"""


@pytest.mark.parametrize(
    ("name", "allow", "refusal"),
    [
        ("PLINTH_ADMIN_KEY", None, "names a Plinth setting"),
        ("plinth_admin_key", None, "names a Plinth setting"),
        ("HOME", None, "not allowed; routing.api_key_env_allow permits \\*_API_KEY"),
        ("PLINTH_ADMIN_KEY", '["PLINTH_*"]', "names a Plinth setting"),
    ],
)
def test_deployment_key_envs_outside_the_allow_list_stop_start_up(
    tmp_path: Path, name: str, allow: str | None, refusal: str
) -> None:
    routing = f"[routing]\napi_key_env_allow = {allow}\n" if allow else ""
    (tmp_path / "plinth.toml").write_text(routing + _KEYED.format(name=name))
    with pytest.raises(
        ValidationError, match=rf"deployments\[0\] \('m@evil.example'\): .*{refusal}"
    ):
        load_settings()


def test_the_key_env_allow_list_is_a_setting(tmp_path: Path) -> None:
    (tmp_path / "plinth.toml").write_text(
        '[routing]\napi_key_env_allow = ["TEAM_*"]\n' + _KEYED.format(name="TEAM_TOKEN")
    )
    assert load_settings().deployments[0].api_key_env == "TEAM_TOKEN"
    (tmp_path / "plinth.toml").write_text(_KEYED.format(name="DEEPSEEK_API_KEY"))
    assert load_settings().deployments[0].api_key_env == "DEEPSEEK_API_KEY"


def test_a_deployment_never_reads_plinth_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    from plinth.deployment import Deployment

    monkeypatch.setenv("PLINTH_ADMIN_KEY", "sk-admin-secret")
    direct = Deployment(model="m", base_url="https://x.test/v1", api_key_env="PLINTH_ADMIN_KEY")
    assert direct.api_key() is None
