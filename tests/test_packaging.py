"""The sdist and the wheel: what they hold, their metadata, and that twine accepts them.

Built offline (``python -m build --no-isolation``, with setuptools, build and
twine from the test extra) from a copy of the checkout, so the build leaves
nothing behind in it. ``build`` makes the wheel from the sdist, so this also
shows that the sdist is complete.
"""

from __future__ import annotations

import email
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from django_jwt_revoke import __version__

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "django_jwt_revoke"
NAME = "django_jwt_revoke"

_NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv*",
    ".tox",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.py[cod]",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".hypothesis",
    "*.sqlite3",
)


def _run(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("packaging")
    source = tmp / "source"
    shutil.copytree(REPO, source, ignore=_NOT_SOURCES)
    _run("-m", "build", "--no-isolation", "--outdir", tmp / "dist", ".", cwd=source)
    return tmp / "dist"


@pytest.fixture(scope="module")
def wheel_names(dist: Path) -> set[str]:
    with zipfile.ZipFile(dist / f"{NAME}-{__version__}-py3-none-any.whl") as wheel:
        return set(wheel.namelist())


@pytest.fixture(scope="module")
def sdist_names(dist: Path) -> set[str]:
    with tarfile.open(dist / f"{NAME}-{__version__}.tar.gz") as sdist:
        prefix = f"{NAME}-{__version__}/"
        return {name.removeprefix(prefix) for name in sdist.getnames()}


def _package_files(*patterns: str) -> set[str]:
    return {
        path.relative_to(REPO).as_posix()
        for pattern in patterns
        for path in PACKAGE.glob(pattern)
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_built_exactly_one_sdist_and_one_wheel(dist):
    assert sorted(path.name for path in dist.iterdir()) == [
        f"{NAME}-{__version__}-py3-none-any.whl",
        f"{NAME}-{__version__}.tar.gz",
    ]


def test_wheel_holds_the_package_with_migrations_and_py_typed(wheel_names):
    expected = _package_files("**/*.py", "py.typed", "locale/*/LC_MESSAGES/*", "templates/**/*")
    assert f"{NAME}/migrations/0001_initial.py" in expected
    assert f"{NAME}/py.typed" in expected
    assert expected <= wheel_names


def test_wheel_holds_nothing_but_the_package(wheel_names):
    top_level = {name.split("/")[0] for name in wheel_names}
    assert top_level == {NAME, f"{NAME}-{__version__}.dist-info"}
    assert f"{NAME}-{__version__}.dist-info/licenses/LICENSE" in wheel_names


def test_metadata(dist):
    with zipfile.ZipFile(dist / f"{NAME}-{__version__}-py3-none-any.whl") as wheel:
        metadata = email.message_from_bytes(wheel.read(f"{NAME}-{__version__}.dist-info/METADATA"))
    assert metadata["Name"] == "django-jwt-revoke"
    assert metadata["Version"] == __version__
    assert metadata["License-Expression"] == "BSD-3-Clause"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata.get_payload().startswith("# django-jwt-revoke")
    assert {"crypto", "openapi", "test"} <= set(metadata.get_all("Provides-Extra"))
    requires = metadata.get_all("Requires-Dist")
    assert any(
        line.startswith("drf-spectacular") and 'extra == "openapi"' in line for line in requires
    )
    runtime = sorted(line.split(">")[0] for line in requires if "extra ==" not in line)
    assert runtime == ["Django", "PyJWT", "djangorestframework"]


def test_sdist_holds_sources_docs_tests_and_example(sdist_names):
    for name in [
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "pyproject.toml",
        "tox.ini",
        "tests/settings.py",
        "tests/test_packaging.py",
        "example_project/manage.py",
        "example_project/example_project/settings.py",
        "docs/consistency.md",
    ]:
        assert name in sdist_names
    assert _package_files("**/*.py", "py.typed") <= sdist_names
    assert not [
        name
        for name in sdist_names
        if name.startswith("benchmarks/") or "__pycache__" in name or name.endswith(".sqlite3")
    ]


def test_twine_check(dist):
    done = _run("-m", "twine", "check", "--strict", *sorted(dist.iterdir()), cwd=dist)
    assert done.stdout.count("PASSED") == 2


def test_version_lives_in_one_place():
    pyproject = (REPO / "pyproject.toml").read_text()
    project = pyproject.split("\n[project]\n", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^dynamic = \["version"\]$', project, re.MULTILINE)
    assert not re.search(r"^version\s*=", project, re.MULTILINE)
    assert 'version = {attr = "django_jwt_revoke.__version__"}' in pyproject
    assert f"## [{__version__}]" in (REPO / "CHANGELOG.md").read_text()


def test_metadata_names_the_project_urls(dist):
    """``[project.urls]``: what PyPI shows beside the description."""
    with zipfile.ZipFile(dist / f"{NAME}-{__version__}-py3-none-any.whl") as wheel:
        metadata = email.message_from_bytes(wheel.read(f"{NAME}-{__version__}.dist-info/METADATA"))
    urls = dict(line.split(", ", 1) for line in metadata.get_all("Project-URL"))
    repository = "https://github.com/django-jwt-revoke/django-jwt-revoke"
    assert urls == {
        "Homepage": repository,
        "Documentation": f"{repository}#readme",
        "Source": repository,
        "Changelog": f"{repository}/blob/main/CHANGELOG.md",
        "Issues": f"{repository}/issues",
    }
