"""Sphinx configuration: the docs/ pages (Markdown, read by MyST).

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``
(``pip install -e ".[docs]"``); warnings are errors, as in CI and tox.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _package_version() -> str:
    """``django_jwt_revoke.__version__``, read from the source: nothing is imported."""
    tree = ast.parse((ROOT / "django_jwt_revoke" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__version__" for target in node.targets
        ):
            return ast.literal_eval(node.value)
    raise RuntimeError("django_jwt_revoke/__init__.py has no __version__")


project = "django-jwt-revoke"
author = "django-jwt-revoke developers"
copyright = "2026, django-jwt-revoke developers"
release = _package_version()
version = release

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# Markdown as GitHub renders it: `[text](page.md#a-heading)` links work in both.
myst_heading_anchors = 3

html_theme = "alabaster"
html_title = f"{project} {release}"
html_theme_options = {
    "description": "Revocable JSON Web Tokens for Django REST framework.",
    "fixed_sidebar": True,
}
