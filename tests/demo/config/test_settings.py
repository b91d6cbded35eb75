"""The demo's settings refuse to run with a secret anyone could know."""

import os
import subprocess
import sys

from tests.servers import ROOT, manage


def test_without_a_secret_key_the_shop_refuses_to_start_even_in_debug():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(DEBUG="true", PYTHONPATH=str(ROOT / "demo"))
    result = subprocess.run(
        [sys.executable, "demo/manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Set SECRET_KEY in the environment" in result.stderr


def test_make_serves_deploy_check_passes_with_https_on():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DEBUG="false",
        HTTPS="true",
        ALLOWED_HOSTS="shop.example",
        SECRET_KEY="a-deploy-check-key-" + "x" * 50,
        PYTHONPATH=str(ROOT / "demo"),
    )
    manage("check", "--deploy", "--fail-level", "WARNING", env=env)
