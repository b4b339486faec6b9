"""Package boundaries: the brief's, the layers of .importlinter, and no import cycles.

The import graph is grimp's (import-linter's), read from the source: function-level imports count
as much as the ones at the top of a module.
"""
import re
import textwrap
from pathlib import Path

import grimp
import pytest
from importlinter import api  # configures import-linter before its use cases run
from importlinter.application import use_cases

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / ".importlinter"
WECHAT_LIBRARIES = re.compile(r"^\s*(from|import)\s+(wechatpy|wechatpayv3)\b", re.MULTILINE)
# app.extensions builds `db` from app.db's Base, and app.db's helpers read `db` when called.
KNOWN_CYCLES = {("app.db", "app.extensions"), ("app.extensions", "app.db")}


def test_only_the_wechat_package_imports_the_wechat_libraries():
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("app", "miniprogram_api", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if not path.is_relative_to(ROOT / "app" / "wechat") and WECHAT_LIBRARIES.search(path.read_text())
    ]
    assert offenders == []


def contracts_kept(config: Path, capsys) -> tuple[bool, str]:
    """Run import-linter's contracts of a config file over its root packages; (all kept, its report)."""
    kept = use_cases.lint_imports(config_filename=str(config), cache_dir=None, no_logo=True, is_debug_mode=True)
    return kept, capsys.readouterr().out


def import_cycles(*packages: str) -> set[tuple[str, str]]:
    """Every direct import that closes a loop: (importer, imported) where the imported module leads back."""
    graph = grimp.build_graph(*packages, cache_dir=None)
    return {(importer, imported) for importer in graph.modules
            for imported in graph.find_modules_directly_imported_by(importer)
            if graph.chain_exists(imported, importer)}


def test_every_package_imports_only_below_it_and_wechat_through_its_adapters(capsys):
    kept, report = contracts_kept(CONTRACTS, capsys)
    assert kept, report


def test_every_part_of_the_app_has_its_place_in_the_layers():
    layers = next(contract["layers"] for contract in api.read_configuration(str(CONTRACTS))["contracts_options"]
                  if contract["type"] == "layers")
    named = {name.strip() for layer in layers for name in re.split(r"[|:]", layer)}
    graph = grimp.build_graph("app", cache_dir=None)
    unplaced = {child for child in graph.find_children("app")
                if child not in named and not any(name.startswith(f"{child}.") for name in named)}
    assert unplaced == set()


def test_no_module_imports_one_that_imports_it_back():
    assert import_cycles("app", "miniprogram_api") == KNOWN_CYCLES


@pytest.fixture
def cyclic_package(tmp_path, monkeypatch):
    """A throwaway package whose low layer imports its high one back, inside a function."""
    package = tmp_path / "throwaway_cycle"
    for name, source in {
        "__init__.py": "",
        "high.py": "from throwaway_cycle import low\n",
        "low.py": "def later():\n    from throwaway_cycle import high\n\n    return high\n",
    }.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(source)
    config = tmp_path / ".importlinter"
    config.write_text(textwrap.dedent("""\
        [importlinter]
        root_package = throwaway_cycle

        [importlinter:contract:layers]
        name = high over low
        type = layers
        layers =
            throwaway_cycle.high
            throwaway_cycle.low
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    return config


def test_the_same_checks_fail_on_a_cycle_hidden_in_a_function(cyclic_package, capsys):
    kept, report = contracts_kept(cyclic_package, capsys)
    assert not kept and "throwaway_cycle.low is not allowed to import throwaway_cycle.high" in report
    assert import_cycles("throwaway_cycle") == {("throwaway_cycle.high", "throwaway_cycle.low"),
                                                ("throwaway_cycle.low", "throwaway_cycle.high")}
