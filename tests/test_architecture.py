"""The layering that docs/architecture.md describes, checked on the source.

A module imports (at module level) only from the layers below its own, so
that a reader can follow the direction of imports the document gives, and a
change that would tie two layers into a circle fails here first.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "django_jwt_revoke"

#: Lower layers first; a module may import from any layer below its own.
LAYERS = [
    {"appsettings"},
    {"conf", "exceptions", "signals", "secevents", "jose"},
    {"models"},
    {"backends", "claims"},
    {"tokens"},
    {"stores", "feed"},
    {"revocation", "cookies", "parsers", "throttling", "debug"},
    {"authentication", "serializers", "receivers", "simplejwt", "checks"},
    {"views", "admin", "openapi", "management"},
    {"urls", "apps", "migrations"},
    # The resource-server role: installed without the issuer's app (no models).
    {"resource"},
]
LAYER = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) == 1:
            continue
        yield path, parts


def _package_imports(path, parts):
    """The top-level package modules that ``path`` imports at module level."""
    tree = ast.parse(path.read_text())
    here = list(parts[:-1])
    found = set()
    for node in tree.body:  # module level only: an import inside a function is deliberate
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
                target = [*base, *(node.module.split(".") if node.module else [])]
                if not target:  # "from . import x, y"
                    found.update(alias.name for alias in node.names)
                else:
                    found.add(target[0])
            elif node.module and node.module.startswith("django_jwt_revoke."):
                found.add(node.module.split(".")[1])
    return found


def test_every_module_has_a_layer():
    missing = {parts[0] for _path, parts in _modules()} - set(LAYER)
    assert not missing, f"add these to LAYERS and to docs/architecture.md: {missing}"


@pytest.mark.parametrize(
    "path,parts", list(_modules()), ids=lambda v: "/".join(v) if isinstance(v, tuple) else ""
)
def test_imports_go_down_the_layers(path, parts):
    own = parts[0]
    upward = {
        name
        for name in _package_imports(path, parts)
        if name != own and name in LAYER and LAYER[name] >= LAYER[own]
    }
    assert not upward, f"{'/'.join(parts)} imports from its own layer or above: {upward}"
