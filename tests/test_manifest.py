"""Batch manifests read without Ray: CSV and JSON Lines give the same items; bad rows are named."""

from __future__ import annotations

import json

import pytest

from stylegram.batch.manifest import read_manifest
from stylegram.errors import InputError
from stylegram.settings import StylizeSettings

DEFAULTS = StylizeSettings(size=64, iterations=5)


def _write(folder, name: str, text: str):
    path = folder / name
    path.write_text(text)
    return path


def test_json_lines_and_csv_give_the_same_items(tmp_path):
    rows = [{"content": "a.jpg", "styles": ["s1.jpg", "s2.jpg"]},
            {"content": "sub/b.png", "styles": ["s1.jpg"], "size": 96, "style_weight": 5}]
    jsonl = _write(tmp_path, "m.jsonl",
                   "\n".join(json.dumps(r) for r in rows[:1]) + "\n\n" + json.dumps(rows[1]) + "\n")
    csv = _write(tmp_path, "m.csv", "content,styles,size,style_weight\na.jpg,s1.jpg;s2.jpg,,\nsub/b.png,s1.jpg,96,5\n")
    from_jsonl, from_csv = read_manifest(jsonl, DEFAULTS), read_manifest(csv, DEFAULTS)
    assert from_jsonl == from_csv
    first, second = from_jsonl
    assert first.content == tmp_path / "a.jpg" and first.styles == (tmp_path / "s1.jpg", tmp_path / "s2.jpg")
    assert first.settings == DEFAULTS and first.name == "a--s1+s2"
    assert (second.settings.size, second.settings.style_weight, second.settings.iterations) == (96, 5.0, 5)


def test_a_bad_row_is_named_and_an_impossible_value_fails_only_its_item(tmp_path):
    broken = _write(tmp_path, "m.jsonl", '{"content": "a.jpg", "styles": ["s.jpg"]}\n{"content": \n')
    with pytest.raises(InputError, match=r"manifest .*m.jsonl: line 2 is not JSON"):
        read_manifest(broken, DEFAULTS)
    unknown = _write(tmp_path, "u.jsonl", '{"content": "a.jpg", "styles": ["s.jpg"], "colour": 1}\n')
    with pytest.raises(InputError, match="row 1: unknown column colour"):
        read_manifest(unknown, DEFAULTS)
    missing = _write(tmp_path, "x.jsonl", '{"content": "a.jpg"}\n')
    with pytest.raises(InputError, match="row 1: needs 'content' and 'styles'"):
        read_manifest(missing, DEFAULTS)
    impossible = _write(tmp_path, "i.jsonl", '{"content": "a.jpg", "styles": ["s.jpg"], "size": -3}\n'
                                              '{"content": "b.jpg", "styles": ["s.jpg"]}\n')
    bad, good = read_manifest(impossible, DEFAULTS)
    assert "--size" in bad.error and good.error == ""
    with pytest.raises(InputError, match="no rows"):
        read_manifest(_write(tmp_path, "e.jsonl", "\n\n"), DEFAULTS)
