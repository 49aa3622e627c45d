"""Tests of stage 1, the loader: positions of keys and values, safety bounds (aliases, depth,
size, tags, merge keys), encodings, and the plain values it yields."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speck.diagnostics import Diagnostic, Location, SpecError
from speck.front.load import MAX_BYTES, MAX_DEPTH, MAX_NODES, load_bytes, load_file, load_text


def error_of(text: str) -> str:
    with pytest.raises(SpecError) as info:
        load_text(text, "s.yaml")
    (diag,) = info.value.diagnostics
    return diag.format()


def test_positions_of_keys_and_values() -> None:
    text = "speck: 1\nmodel:\n  layers:\n    - Dense: {units: 64}\n    - Flatten\n"
    src = load_text(text, "s.yaml").source
    assert src.keys[("model",)] == Location("s.yaml", 2, 1)
    assert src.keys[("model", "layers")] == Location("s.yaml", 3, 3)
    assert src.values[("model", "layers", 0)] == Location("s.yaml", 4, 7)
    assert src.keys[("model", "layers", 0, "Dense")] == Location("s.yaml", 4, 7)
    assert src.keys[("model", "layers", 0, "Dense", "units")] == Location("s.yaml", 4, 15)
    assert src.values[("model", "layers", 0, "Dense", "units")] == Location("s.yaml", 4, 22)
    assert src.values[("model", "layers", 1)] == Location("s.yaml", 5, 7)


def test_locate_walks_up_to_the_nearest_known_parent() -> None:
    src = load_text("a:\n  b: 1\n", "s.yaml").source
    assert src.locate(("a", "b", "c", 3)) == Location("s.yaml", 2, 3)
    assert src.locate(("a", "b", "c"), prefer="value") == Location("s.yaml", 2, 6)
    assert src.locate(("nothing",)) == Location("s.yaml", 1, 1)


def test_an_alias_value_is_placed_where_the_alias_is_written() -> None:
    text = "n: &n 64\nlayer: {units: *n}\n"
    loaded = load_text(text, "s.yaml")
    assert loaded.data == {"n": 64, "layer": {"units": 64}}
    assert loaded.source.values[("layer", "units")] == Location("s.yaml", 2, 16)


def test_values_are_plain_python() -> None:
    text = (
        "i: 3\nf: 0.5\ne: 1e-3\nneg: -2E+2\nb: true\nn: null\ns: hello\nq: '1e-3'\n"
        "date: 2024-01-02\nlist: [1, two]\non: 1\n"
    )
    assert load_text(text).data == {
        "i": 3,
        "f": 0.5,
        "e": 0.001,  # a number in JSON and YAML 1.2, a string to YAML 1.1
        "neg": -200.0,
        "b": True,
        "n": None,
        "s": "hello",
        "q": "1e-3",  # quoted: the text the person wrote
        "date": "2024-01-02",  # timestamps stay strings
        "list": [1, "two"],
        "on": 1,  # `on` as a key is the word, not True
    }


def test_json_is_read_by_the_same_loader() -> None:
    data = {"speck": 1, "name": "x", "smile": "🙂", "lr": 1e-3, "shape": [28, 28, 1]}
    text = json.dumps(data)  # ensure_ascii: the emoji as a surrogate pair of escapes
    assert "\\ud83d" in text
    assert load_text(text, "s.json").data == data


def test_a_lone_surrogate_escape_is_an_error() -> None:
    assert "surrogate" in error_of('name: "a\\ud83d"\n')


def test_a_bom_is_ignored_and_positions_stay_right() -> None:
    loaded = load_bytes("\ufeffspeck: 1\nname: x\n".encode(), "s.yaml")
    assert loaded.data == {"speck": 1, "name": "x"}
    assert loaded.source.keys[("name",)] == Location("s.yaml", 2, 1)


def test_non_utf8_bytes_are_a_clear_error() -> None:
    with pytest.raises(SpecError) as info:
        load_bytes(b"speck: 1\nname: caf\xe9\n", "s.yaml")
    assert info.value.diagnostics[0].format() == (
        "s.yaml:2:10: (top level): not UTF-8 text: byte 0xe9 cannot be decoded"
        " (save the file as UTF-8)"
    )


def test_an_oversized_file_is_refused_before_parsing() -> None:
    with pytest.raises(SpecError) as info:
        load_bytes(b"#" * (MAX_BYTES + 1), "s.yaml")
    assert "a spec may be at most" in str(info.value)


@pytest.mark.parametrize("text", ["", "   \n\n", "# only\n# comments\n"])
def test_an_empty_file_is_an_error(text: str) -> None:
    assert "the file is empty" in error_of(text)


def test_two_documents_are_an_error() -> None:
    assert error_of("a: 1\n---\nb: 2\n").startswith("s.yaml:3:1: (top level): expected one YAML")


def test_duplicate_keys_are_errors_and_all_are_reported() -> None:
    with pytest.raises(SpecError) as info:
        load_text("a: 1\nb: {x: 1, x: 2}\na: 3\n", "s.yaml")
    assert [d.format() for d in info.value.diagnostics] == [
        "s.yaml:2:11: b.x: duplicate key 'x' (first given on line 2) (keep one of them)",
        "s.yaml:3:1: a: duplicate key 'a' (first given on line 1) (keep one of them)",
    ]


def test_keys_that_differ_only_by_type_are_duplicates_of_their_text() -> None:
    assert "duplicate key 'on'" in error_of("on: 1\n'on': 2\n")


def test_merge_keys_are_refused() -> None:
    message = error_of("base: &b {units: 3}\nlayer: {<<: *b, name: x}\n")
    assert message.startswith("s.yaml:2:9: layer: merge keys (<<) are not supported")


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("x: !!python/object/apply:os.system ['true']\n", "!!python/object/apply:os.system"),
        ("x: !!python/name:os.system ''\n", "!!python/name:os.system"),
        ("x: !!python/tuple [1, 2]\n", "!!python/tuple"),
    ],
)
def test_python_tags_are_refused(text: str, tag: str) -> None:
    assert error_of(text).startswith(f"s.yaml:1:4: x: Python tags are refused: {tag}")


@pytest.mark.parametrize("text", ["x: !!binary aGk=\n", "x: !!set {a: null}\n", "x: !mine 3\n"])
def test_other_tags_are_refused(text: str) -> None:
    assert "unsupported YAML tag" in error_of(text)


def test_a_non_scalar_key_is_refused() -> None:
    assert "a mapping key must be a plain name" in error_of("? [a, b]\n: 1\n")


def billion_laughs(levels: int = 9) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        refs = ", ".join([f"*l{i - 1}"] * 9)
        lines.append(f"l{i}: &l{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_fails_fast_at_the_alias_that_expands() -> None:
    with pytest.raises(SpecError) as info:
        load_text(billion_laughs(), "s.yaml")
    (diag,) = info.value.diagnostics
    assert f"expands to more than {MAX_NODES:,} values" in diag.message
    # l5's first *l4 is where the count passes the bound (9**5 values from l4 alone).
    assert diag.location == Location("s.yaml", 6, 10)
    assert diag.path == ("l5", 0)


def test_aliases_within_the_bound_are_expanded() -> None:
    data = load_text(billion_laughs(levels=3), "s.yaml").data
    assert len(data["l2"]) == 9 and data["l2"][0][0] == ["lol"] * 9


@pytest.mark.parametrize("opener", ["[", "{a: "])
def test_nesting_depth_is_bounded_without_recursion_errors(opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    text = "x: " + opener * 5000 + "1" * (opener != "[") + closer * 5000 + "\n"
    message = error_of(text)
    assert f"nesting deeper than {MAX_DEPTH} levels" in message


def test_nesting_up_to_the_bound_is_fine() -> None:
    depth = MAX_DEPTH - 1  # the top mapping is one level, `x`'s value the next
    text = "x: " + "[" * depth + "]" * depth + "\n"
    value = load_text(text).data["x"]
    for _ in range(depth - 1):
        (value,) = value
    assert value == []


def test_yaml_syntax_errors_have_positions_and_hints() -> None:
    assert error_of("a: [1, 2\nb: 3\n") == (
        "s.yaml:2:2: (top level): YAML syntax error: expected ',' or ']', but got ':'"
        " (is the '[' on line 1, column 4 closed?)"
    )
    assert error_of("a:\n\tb: 1\n").startswith(
        "s.yaml:2:1: (top level): YAML syntax error: found character '\\t'"
    )
    assert error_of('a: "open\nb: 1\n').startswith(
        "s.yaml:1:4: (top level): YAML syntax error: a quoted string is not closed"
    )
    assert error_of("a: *nothing\n").startswith("s.yaml:1:4: (top level): YAML syntax error")


def test_control_characters_are_placed() -> None:
    assert error_of("a: 1\nb: x\x00y\n").startswith(
        "s.yaml:2:5: (top level): character U+0000 is not allowed"
    )


def file_error(path: Path) -> Diagnostic:
    with pytest.raises(SpecError) as info:
        load_file(path)
    (diag,) = info.value.diagnostics
    return diag


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    diag = file_error(tmp_path / "missing.yaml")
    assert diag.location == Location(str(tmp_path / "missing.yaml"), 1, 1)
    assert diag.message == "the spec file does not exist"
    assert diag.as_dict()["file"] == str(tmp_path / "missing.yaml")


def test_a_folder_is_not_a_spec(tmp_path: Path) -> None:
    assert file_error(tmp_path).message == "this is a folder; a spec is a regular file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "x.yaml"
    os.mkfifo(fifo)
    # Opening a FIFO for reading would block until a writer comes; none ever does here.
    assert file_error(fifo).message == "this is a named pipe (FIFO); a spec is a regular file"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_device_is_refused_before_reading() -> None:
    assert file_error(Path("/dev/zero")).message == (
        "this is a character device; a spec is a regular file"
    )


def test_a_large_file_is_read_only_up_to_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (3 * MAX_BYTES))
    read: list[int] = []
    real_read = os.read

    def counting_read(fd: int, n: int) -> bytes:
        chunk = real_read(fd, n)
        read.append(len(chunk))
        return chunk

    monkeypatch.setattr(os, "read", counting_read)
    assert "a spec may be at most" in file_error(path).message
    assert sum(read) == MAX_BYTES + 1


def test_sha256_is_of_the_text(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("a: 1\n", encoding="utf-8")
    assert load_file(path).sha256 == load_text("a: 1\n").sha256


yaml_keys = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda k: k not in ("y", "n", "yes", "no", "on", "off", "true", "false", "null")
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(yaml_keys, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None)
@given(data=st.dictionaries(yaml_keys, json_values, min_size=1, max_size=5))
def test_any_json_document_loads_to_itself(data: dict[str, object]) -> None:
    text = json.dumps(data)
    assert load_text(text, "s.json").data == data


# --- YAML 1.2 numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("010", "010 is 8 in YAML 1.1 and 10 in YAML 1.2", "write 8 or 10"),
        ("1:30", "1:30 is the number 90 in YAML 1.1 but the text '1:30' in YAML 1.2", "write 90"),
        ("0b11", "0b11 is the number 3 in YAML 1.1 but the text '0b11' in YAML 1.2", "write 3"),
        ("1_0", "1_0 is the number 10 in YAML 1.1 but the text '1_0' in YAML 1.2", "write 10"),
        ("-0x10", "-0x10 is the number -16 in YAML 1.1", "write -16"),
        ("0o10", "0o10 is the number 8 in YAML 1.2 but the text '0o10' in YAML 1.1", "write 8"),
        ("09", "09 is the number 9 in YAML 1.2 but the text '09' in YAML 1.1", "write 9"),
    ],
)
def test_numbers_that_yaml_1_1_and_1_2_read_apart_are_refused(
    text: str, message: str, hint: str
) -> None:
    with pytest.raises(SpecError) as info:
        load_text(f"model:\n  units: {text}\n", "s.yaml")
    (diag,) = info.value.diagnostics
    assert diag.location == Location("s.yaml", 2, 10)
    assert diag.path == ("model", "units")
    assert diag.message.startswith(message)
    assert diag.suggestion is not None and diag.suggestion.startswith(hint)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0x10", 16),  # hexadecimal is the same number in both
        ("00", 0),
        ("+5", 5),
        ("1.", 1.0),
        ("-2.5e-3", -0.0025),
        ("1e3", 1000.0),  # text to YAML 1.1's resolver, but a number to everyone else
        ("'010'", "010"),  # quoted: the text
        ("1.2.3", "1.2.3"),
    ],
)
def test_numbers_both_read_alike_are_kept(text: str, value: object) -> None:
    loaded = load_text(f"units: {text}\n").data["units"]
    assert loaded == value and type(loaded) is type(value)


def test_a_number_too_long_to_convert_is_an_error_not_a_crash() -> None:
    assert "too long to read" in error_of("units: 1" + "0" * 5000 + "\n")


# --- JSON specs are JSON ----------------------------------------------------------------------


def json_error(text: str) -> Diagnostic:
    with pytest.raises(SpecError) as info:
        load_text(text, "s.json")
    (diag,) = info.value.diagnostics
    return diag


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ('{"a": 1,\n "b": [1, 2,]\n}', 2, 12, "a trailing comma"),
        ('{"a": 1,\n}', 1, 8, "a trailing comma"),
        ('{\n  // a note\n  "a": 1\n}', 2, 3, "a comment"),
        ("{'a': 1}", 1, 2, "a single-quoted string"),
        ('{"a": 1} {"b": 2}', 1, 10, "Extra data"),
    ],
)
def test_a_json_spec_that_yaml_would_accept_is_refused_at_its_place(
    text: str, line: int, column: int, message: str
) -> None:
    diag = json_error(text)
    assert diag.location == Location("s.json", line, column)
    assert message in diag.message


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_has_no_nan_or_infinity(constant: str) -> None:
    diag = json_error('{"fit": {\n  "lr": ' + constant + "}}")
    assert diag.path == ("fit", "lr")
    assert diag.location == Location("s.json", 2, 9)
    assert diag.message == f"not valid JSON: {constant} is not a JSON number"


def test_the_same_text_in_a_yaml_file_is_yaml() -> None:
    assert load_text('{"a": [1, 2,],}', "s.yaml").data == {"a": [1, 2]}


def test_valid_json_keeps_its_positions() -> None:
    loaded = load_text('{\n  "model": {\n    "units": 3\n  }\n}\n', "s.json")
    assert loaded.data == {"model": {"units": 3}}
    assert loaded.source.locate(("model", "units"), prefer="value") == Location("s.json", 3, 14)


def test_json_that_yaml_cannot_follow_is_still_read() -> None:
    key = "k" * 1100  # YAML's keys are at most 1,024 characters; JSON's are not
    loaded = load_text(json.dumps({key: 1, "b": [2]}), "s.json")
    assert loaded.data == {key: 1, "b": [2]}
    assert loaded.source.locate(("b", 0)) == Location("s.json", 1, 1)
