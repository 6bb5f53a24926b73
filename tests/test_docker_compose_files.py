"""The docker compose deployment, checked without a Docker engine (issue 12 "Deploy": a
`docker compose` file that starts PostgreSQL, Redis, web, jobs and nginx).

No engine runs where these tests run, so ``docker compose up`` itself is left to a host that
has one (deploy/README.md). What can go wrong in the files is checked here: every variable
the compose file and ``crm.env.example`` set is one the app, gunicorn or the backup script
reads; every command the services run exists; every file they mount exists; the image's
install step builds a wheel from exactly what the Dockerfile copies before it; secrets stay
out of the build context.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
APP_SERVICES = ("migrate", "web", "jobs")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def variables_read() -> set[str]:
    """The environment variables the app (crm/config.py), gunicorn's config and the backup
    script read."""
    config = (ROOT / "crm" / "config.py").read_text()
    names = set(re.findall(r'env\.get\("([A-Z0-9_]+)"', config))
    names |= set(re.findall(r'_bounded_int\(env, "([A-Z0-9_]+)"', config))
    gunicorn = (DEPLOY / "gunicorn.conf.py").read_text()
    names |= set(re.findall(r'"(GUNICORN_[A-Z_]+)"', gunicorn))
    backup = (DEPLOY / "backup.sh").read_text()
    names |= set(re.findall(r"\$\{(BACKUP_[A-Z_]+)", backup))
    return names


def dockerfile() -> list[str]:
    return [
        line.strip()
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def test_compose_starts_postgres_redis_web_jobs_and_nginx(compose):
    services = compose["services"]
    assert {"postgres", "redis", "web", "jobs", "nginx"} <= set(services)
    for name in APP_SERVICES:
        assert services[name]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    # The app waits for a migrated database and a live Redis; nginx for a healthy web.
    for name in ("web", "jobs"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
        assert services[name]["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert services["nginx"]["depends_on"]["web"] == {"condition": "service_healthy"}


def test_every_variable_set_for_the_app_is_one_it_reads(compose):
    known = variables_read()
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PII_KEY", "GUNICORN_BIND"} <= known
    for name in APP_SERVICES:
        environment = compose["services"][name]["environment"]
        assert set(environment) <= known, f"{name}: {set(environment) - known}"
    example = DEPLOY / "crm.env.example"
    set_there = {
        line.split("=", 1)[0]
        for line in example.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert set_there <= known, set_there - known


def test_the_services_commands_exist(compose, app):
    runner = app.test_cli_runner()
    for name in ("migrate", "jobs"):
        command = compose["services"][name]["command"]
        assert command[:3] == ["flask", "--app", "app"]
        result = runner.invoke(args=[*command[3:], "--help"])
        assert result.exit_code == 0, f"{name}: {command}: {result.output}"
    cmd = next(line for line in dockerfile() if line.startswith("CMD"))
    assert cmd == 'CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "app:app"]'


def test_gunicorn_takes_the_web_services_bind_and_trusts_nginx(compose, monkeypatch):
    environment = compose["services"]["web"]["environment"]
    for name, value in environment.items():
        monkeypatch.setenv(name, str(value))
    settings: dict = {}
    exec((DEPLOY / "gunicorn.conf.py").read_text(), settings)
    assert settings["bind"] == "0.0.0.0:8000"
    assert settings["forwarded_allow_ips"] == "*"


def test_the_web_healthcheck_asks_a_page_that_answers(compose, client):
    probe = " ".join(compose["services"]["web"]["healthcheck"]["test"])
    path = re.search(r"http://127\.0\.0\.1:8000(/[a-z]+)", probe).group(1)
    response = client.get(path)
    assert response.status_code == 200


def test_every_file_nginx_mounts_is_in_the_repository_or_made_by_the_readme(compose):
    for volume in compose["services"]["nginx"]["volumes"]:
        source = volume.split(":", 1)[0]
        if source == "./certs":
            assert "deploy/certs" in (DEPLOY / "README.md").read_text()
            continue
        assert (DEPLOY / source).resolve().exists(), source


def test_secrets_stay_out_of_the_build_context():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {"deploy/crm.env", "deploy/certs", ".venv", "instance"} <= ignored


def test_the_images_install_step_builds_from_what_is_copied_before_it(tmp_path):
    """The Dockerfile copies a few paths, then ``pip install ".[postgres]"``: those paths
    alone must build the project (a package left out would only fail inside the image)."""
    lines = dockerfile()
    install = next(i for i, line in enumerate(lines) if line.startswith("RUN pip install"))
    source = tmp_path / "context"
    source.mkdir()
    for line in lines[:install]:
        if not line.startswith("COPY "):
            continue
        *paths, target = line.split()[1:]
        for path in paths:
            origin = ROOT / path
            destination = source / (path if target in ("./", ".") else target)
            if origin.is_dir():
                shutil.copytree(origin, destination, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(origin, destination)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["--wheel-dir", str(tmp_path / "wheels"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "wheels").glob("*.whl")
    packaged = {name.split("/", 1)[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {"crm", "wechat", "jobs"} <= packaged
    assert "crm/services/console_lists/listing.py" in zipfile.ZipFile(wheel).namelist()
