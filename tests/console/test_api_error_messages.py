"""Every error code the API can answer has a message in the console's two languages.

The console shows an error in the user's language by its `code` (console/src/apiErrors.ts, messages
in console/src/locales/api_errors.json under `apiError`). The codes are read from the app itself, not
from a list kept by hand: every DomainError subclass (all of app/ and miniprogram_api/ imported), every
literal ``code="..."`` in their sources, the HTTP fallbacks of app/errors.py, and the few codes made at
run time (``<entity>_not_found``, a sale refusal's reason), so a new error without a translation fails.
"""
from __future__ import annotations

import ast
import gc
import importlib
import json
import pkgutil
import re
from pathlib import Path

import app as app_package
import miniprogram_api
from app.errors import HTTP_CODES, DomainError

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "console" / "src" / "locales" / "api_errors.json"
SOURCES = [ROOT / "app", ROOT / "miniprogram_api"]
LITERAL_CODE = re.compile(r"""\bcode\s*=\s*["']([a-z][a-z0-9_]*)["']""")
# Bodies written without a DomainError (app/health.py's readiness answer).
ERROR_RESPONSE = re.compile(r"""\berror_response\(\s*\d+\s*,\s*["']([a-z][a-z0-9_]*)["']""")
ENTITY_NOT_FOUND = re.compile(r"""\b(?:not_found|_check_active)\(.*?["']([a-z_]+)["']\)""")
# The places that build a code at run time, by (file, function): the codes they can make are found below
# (_dynamic_codes). A new such place fails test_codes_made_at_run_time_are_known until taught here.
DYNAMIC_SITES = {
    ("app/masterdata/rules.py", "not_found"),
    ("app/accounts/invitations.py", "_check_active"),
    ("app/retail/rules.py", "refuse_sale"),
}
# vue-i18n reads these as syntax (interpolation, linked messages, plurals): a message holding one breaks.
I18N_SYNTAX = re.compile(r"[{}@|$]")


def _import_everything() -> None:
    for package in (app_package, miniprogram_api):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _sources():
    for folder in SOURCES:
        for path in sorted(folder.rglob("*.py")):
            yield path, path.read_text(encoding="utf-8")


def _dynamic_codes() -> set[str]:
    """The codes of DYNAMIC_SITES: `<entity>_not_found` for every entity named to them, the sale refusals."""
    entities = set()
    for _, text in _sources():
        entities.update(ENTITY_NOT_FOUND.findall(text))
    for module in ("app.masterdata.records", "app.production.service"):
        entities.update(importlib.import_module(module)._ENTITY_NAMES.values())
    refusals = set(importlib.import_module("app.retail.rules").SALE_REFUSALS)
    return {f"{entity}_not_found" for entity in entities} | refusals


def codes_the_app_answers() -> set[str]:
    _import_everything()
    codes = {cls.code for cls in [DomainError, *_subclasses(DomainError)]}
    for _, text in _sources():
        codes.update(LITERAL_CODE.findall(text))
        codes.update(ERROR_RESPONSE.findall(text))
    codes.update(HTTP_CODES.values())
    codes.add("error")  # errors.py's answer for an HTTP status HTTP_CODES lacks
    return codes | _dynamic_codes()


def _messages() -> dict[str, dict[str, str]]:
    document = json.loads(LOCALE.read_text(encoding="utf-8"))
    return {lang: document[lang]["apiError"] for lang in ("zh-CN", "en")}


def untranslated(codes: set[str]) -> dict[str, list[str]]:
    """The codes without a message, by language (languages that miss none left out)."""
    missing = {lang: sorted(c for c in codes if not str(text.get(c, "")).strip()) for lang, text in _messages().items()}
    return {lang: codes for lang, codes in missing.items() if codes}


def test_every_code_the_api_answers_has_a_message_in_both_languages():
    codes = codes_the_app_answers()
    assert len(codes) > 250, "the walk found too few codes: is the app imported?"
    assert untranslated(codes) == {}


def test_an_error_class_added_without_a_translation_fails_the_check():
    class BrandNewRefusal(DomainError):  # what a new rule would add
        code = "brand_new_refusal"

    try:
        assert untranslated(codes_the_app_answers()) == {"zh-CN": ["brand_new_refusal"], "en": ["brand_new_refusal"]}
    finally:
        del BrandNewRefusal
        gc.collect()
    assert "brand_new_refusal" not in codes_the_app_answers()


def test_codes_made_at_run_time_are_known():
    """A `code=` that is no string literal, passed to an error class, sits in a place DYNAMIC_SITES names."""
    _import_everything()
    error_names = {cls.__name__ for cls in [DomainError, *_subclasses(DomainError)]} | {"cls"}
    found = set()
    for path, text in _sources():
        tree = ast.parse(text)
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for call in ast.walk(function):
                if not isinstance(call, ast.Call):
                    continue
                name = getattr(call.func, "id", None) or getattr(call.func, "attr", None)
                dynamic = [k for k in call.keywords if k.arg == "code" and not (
                    isinstance(k.value, ast.Constant) and isinstance(k.value.value, str))]
                if name in error_names and dynamic:
                    found.add((str(path.relative_to(ROOT)), function.name))
    assert found == DYNAMIC_SITES


def test_messages_read_in_chinese_and_hold_no_i18n_syntax():
    messages = _messages()
    chinese = re.compile(r"[\u4e00-\u9fff]")
    assert [code for code, text in messages["zh-CN"].items() if not chinese.search(text)] == []
    assert [(lang, code) for lang in messages for code, text in messages[lang].items() if I18N_SYNTAX.search(text)] == []
    # No entry for a code nothing answers: a renamed code leaves no stale message behind.
    assert set(messages["zh-CN"]) - codes_the_app_answers() == set()
