"""Package boundaries the brief fixes."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WECHAT_LIBRARIES = re.compile(r"^\s*(from|import)\s+(wechatpy|wechatpayv3)\b", re.MULTILINE)


def test_only_the_wechat_package_imports_the_wechat_libraries():
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("app", "miniprogram_api", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if not path.is_relative_to(ROOT / "app" / "wechat") and WECHAT_LIBRARIES.search(path.read_text())
    ]
    assert offenders == []
