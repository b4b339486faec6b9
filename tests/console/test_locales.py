"""Every console label exists in Chinese and English: the locale files have the same keys in both, and
every key a screen names with t('...') is in them (read from the sources, so no build is needed)."""
from __future__ import annotations

import json
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "console" / "src"
LITERAL_KEY = re.compile(r"""\bt\(\s*['"]([A-Za-z][\w.]*)['"]""")


def _leaves(tree: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _messages() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {"zh-CN": {}, "en": {}}
    for path in sorted((SRC / "locales").glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        assert set(document) == {"zh-CN", "en"}, path.name
        for lang in merged:
            leaves = _leaves(document[lang])
            clash = set(leaves) & set(merged[lang])
            assert not clash, f"{path.name} redefines {sorted(clash)[:5]}"
            merged[lang].update(leaves)
    return merged


def test_every_label_is_in_both_languages():
    messages = _messages()
    assert messages["zh-CN"], "no messages"
    assert set(messages["zh-CN"]) ^ set(messages["en"]) == set()
    empty = [key for lang in messages for key, text in messages[lang].items() if not str(text).strip()]
    assert not empty


def test_chinese_labels_are_chinese():
    chinese = re.compile(r"[\u4e00-\u9fff]")
    messages = _messages()["zh-CN"]
    # A label may be a code (SKU, API, Webhook) but most read in Chinese.
    latin_only = [key for key, text in messages.items() if not chinese.search(str(text))]
    assert len(latin_only) < len(messages) * 0.1, latin_only[:20]


def test_every_key_the_screens_use_exists():
    messages = _messages()["zh-CN"]
    missing = {}
    for path in SRC.rglob("*"):
        if path.suffix not in {".vue", ".ts"} or "api" in path.parts:
            continue
        for key in LITERAL_KEY.findall(path.read_text(encoding="utf-8")):
            if key not in messages and not any(k.startswith(key + ".") for k in messages):
                missing.setdefault(str(path.relative_to(SRC)), []).append(key)
    assert not missing


def test_every_menu_title_comes_with_the_app():
    """The menu is drawn before an area's labels load (src/i18n.ts loads them with its first screen):
    every title of a route in a menu is a core label (menu.*); detail routes may use their area's."""
    core = _leaves(json.loads((SRC / "locales" / "core.json").read_text(encoding="utf-8"))["zh-CN"])
    outside = []
    for routes in sorted((SRC / "areas").glob("*/routes.ts")):
        for line in routes.read_text(encoding="utf-8").splitlines():
            titles = re.findall(r"""(?:title: |meta\()['"]([\w.]+)['"]""", line)
            in_menu = "menu: true" in line or ("meta(" in line and not re.search(r",\s*false\s*\)", line))
            outside += [f"{routes.parent.name}: {title}" for title in titles if in_menu and title not in core]
    assert not outside
