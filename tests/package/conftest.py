"""The wheel, a fresh virtualenv with it installed, a new project, and that project served:
module-wide fixtures of the drop-in test (test_drop_in.py)."""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.package.new_project import ASGI, ITEM, MODELS, SERVERS, SETTINGS, TEMPLATE, URLS, VIEWS
from tests.package.serving import (
    Server,
    copy_checkout,
    free_port,
    run,
    stop,
    user_env,
    wait_until_serving,
)

# --- the package, the virtualenv, the project ------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("checkout")
    copy_checkout(source)
    out = tmp_path_factory.mktemp("wheel")
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", out, source],
        cwd=out,
        env=user_env(),
    )
    (built,) = out.glob("django_stockwire-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel):
    """A fresh virtualenv with the wheel, its jwt and uvicorn extras, and daphne."""
    with tempfile.TemporaryDirectory(prefix="stockwire-drop-in-venv-") as directory:
        venv = Path(directory) / "venv"
        run([sys.executable, "-m", "venv", venv], cwd=Path(directory), env=user_env())
        run(
            [
                venv / "bin" / "python",
                "-m",
                "pip",
                "install",
                "--quiet",
                f"{wheel}[jwt,uvicorn]",
                "daphne",
            ],
            cwd=Path(directory),
            env=user_env(venv),
            timeout=540,
        )
        yield venv


@pytest.fixture(scope="module")
def project(venv, tmp_path_factory) -> Path:
    """`startproject mysite` and `startapp store`, with Stockwire added as the README says."""
    project = tmp_path_factory.mktemp("project") / "mysite"
    project.mkdir()
    env = user_env(venv)
    python = venv / "bin" / "python"
    run([venv / "bin" / "django-admin", "startproject", "mysite", project], cwd=project, env=env)
    run([python, "manage.py", "startapp", "store"], cwd=project, env=env)

    (project / "store" / "models.py").write_text(MODELS)
    (project / "store" / "views.py").write_text(VIEWS)
    template = project / "store" / "templates" / "store" / "products.html"
    template.parent.mkdir(parents=True)
    template.write_text(TEMPLATE)
    (project / "mysite" / "urls.py").write_text(URLS)
    (project / "mysite" / "asgi.py").write_text(ASGI)
    settings = project / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + SETTINGS)

    run([python, "manage.py", "makemigrations", "store"], cwd=project, env=env)
    run([python, "manage.py", "migrate", "--noinput"], cwd=project, env=env)
    run(
        [
            python,
            "manage.py",
            "shell",
            "-c",
            "from store.models import Product; "
            f"assert Product.objects.create(name='Desk lamp', quantity=5).pk == {ITEM}",
        ],
        cwd=project,
        env=env,
    )
    return project


@pytest.fixture(scope="module", params=list(SERVERS))
def server(request, venv, project, tmp_path_factory):
    """The project served on a free port, on a copy of its own of the project and database."""
    name = request.param
    home = tmp_path_factory.mktemp(name)
    copy = home / "mysite"
    shutil.copytree(project, copy)
    port = free_port()
    served = Server(name, port, venv, copy, home / "server.log")
    with open(served.log, "wb") as log:
        process = subprocess.Popen(
            SERVERS[name](venv, port),
            cwd=copy,
            env=user_env(venv),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so stopping its group stops all it started
        )
        try:
            wait_until_serving(process, served)
            yield served
        finally:
            stop(process)


@pytest.fixture
def five_in_stock(server) -> tuple[int, int]:
    """Each test starts from 5 units of the product; its (quantity, version)."""
    return server.set_stock_unpublished(5)
