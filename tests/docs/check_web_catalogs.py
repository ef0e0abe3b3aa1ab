#!/usr/bin/env python3
"""Checks the dashboard's language catalogs against each other and against the pages.

Every string the dashboard shows comes from one catalog per language (web/i18n/*.json). This
fails when the catalogs do not hold the same keys, when a text is empty or not a string, when
a "{name}" placeholder of one language is missing from another, when a key the pages name
literally (t('...'), tx('...'), has('...')) is in no catalog, or when the Chinese catalog
holds a text with no Chinese in it that is not also the English one (an untranslated copy).
Usage: check_web_catalogs.py WEB_DIR
"""
import json
import pathlib
import re
import sys


def main() -> int:
    web = pathlib.Path(sys.argv[1])
    cats = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((web / "i18n").glob("*.json"))}
    errors = []
    if set(cats) != {"en", "zh-CN"}:
        errors.append(f"catalogs: expected en and zh-CN, found {sorted(cats)}")
    keys = {lang: set(c) for lang, c in cats.items()}
    every = set().union(*keys.values()) if keys else set()
    for lang, k in keys.items():
        for missing in sorted(every - k):
            errors.append(f"{lang}.json lacks key {missing!r}")
        for key, text in cats[lang].items():
            if not isinstance(text, str) or not text.strip():
                errors.append(f"{lang}.json: {key!r} is empty or not a string")
    placeholder = re.compile(r"\{(\w+)\}")
    en, zh = cats.get("en", {}), cats.get("zh-CN", {})
    for key in sorted(set(en) & set(zh)):
        a, b = set(placeholder.findall(str(en[key]))), set(placeholder.findall(str(zh[key])))
        if a != b:
            errors.append(f"{key!r}: placeholders differ (en {sorted(a)}, zh-CN {sorted(b)})")
        text = str(zh[key])
        if not re.search(r"[\u3400-\u9fff]", text) and text != str(en[key]):
            errors.append(f"zh-CN {key!r} = {text!r} has no Chinese and is not the English text")
    used = set()
    call = re.compile(r"""\b(?:t|tx|has)\(\s*(['"])([A-Za-z0-9_.-]+)\1""")
    for js in sorted(web.rglob("*.js")):
        for m in call.finditer(js.read_text(encoding="utf-8")):
            used.add(m.group(2))
            if m.group(2) not in every:
                errors.append(f"{js.relative_to(web)} uses key {m.group(2)!r}, in no catalog")
    for e in errors:
        print("check_web_catalogs:", e)
    print(f"check_web_catalogs: {len(every)} keys, {len(used)} named in the pages, "
          f"{len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
