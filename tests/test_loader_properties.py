"""Property-based tests of the notebook's CSV loader, its cache and its zip extraction (hypothesis): random
and mutated files either load as well-formed digits or fail with the loader's own one-line error, a cache
never disagrees with its CSV, and a zip of odd members is unpacked faithfully or refused in one line."""

import gzip
import io
import os
import zipfile

import numpy as np
import pytest
from hostile_files import DEFLATE64, ENCRYPTED, Member, zip_of
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

# Modest and without a deadline so CI stays fast and a slow machine is no failure; no example database.
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
PIXEL_NAMES = [f"pixel{i}" for i in range(784)]


@pytest.fixture(scope="module")
def four_digits(real_digits):
    """Four real digits of different classes: a small file whose every value matters."""
    pixels, labels = real_digits
    rows = [np.flatnonzero(labels == digit)[0] for digit in (3, 7, 0, 9)]
    return pixels[rows], labels[rows]


def compressed(data: bytes, how: str) -> bytes:
    """The bytes as they are, gzip-compressed, or as the one file of a zip."""
    if how == "gzip":
        return gzip.compress(data)
    if how == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("train.csv", data)
        return buffer.getvalue()
    return data


@st.composite
def csv_layouts(draw, pixels, labels) -> bytes:
    """Valid CSV bytes for the digits, in any of the layouts the loader accepts."""
    header = draw(st.sampled_from(["kaggle", "none", "label last", "numbered from 1", "shuffled"]))
    order = list(range(785))  # Kaggle's columns: 0 is the label, 1 + i is pixel i
    names = ["label", *PIXEL_NAMES]
    if header == "label last":
        order, names = [*range(1, 785), 0], [*PIXEL_NAMES, "label"]
    elif header == "numbered from 1":
        names = ["label"] + [f"pixel{i + 1}" for i in range(784)]
    elif header == "shuffled":
        order = draw(st.permutations(range(785)))
        names = [(["label", *PIXEL_NAMES])[j] for j in order]
    quoting = draw(st.sampled_from(["never", "always", "at random"]))
    spaces = draw(st.booleans())
    chance = draw(st.randoms(use_true_random=False))

    def field(value) -> str:
        text = f" {value} " if spaces else str(value)
        quoted = quoting == "always" or quoting == "at random" and chance.random() < 0.3
        return f'"{text}"' if quoted else text

    table = np.column_stack([labels, pixels])[:, order]
    lines = ([",".join(map(field, names))] if header != "none" else []) + [
        ",".join(map(field, row)) for row in table
    ]
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(lines) + draw(st.sampled_from(["", newline, newline * 3]))
    bom = "\ufeff" if draw(st.booleans()) else ""
    return compressed((bom + text).encode(), draw(st.sampled_from(["none", "gzip", "zip"])))


def test_valid_layouts_load_the_same_digits(nb, tmp_path_factory, four_digits):
    pixels, labels = four_digits

    @PROPERTY_SETTINGS
    @given(data=csv_layouts(pixels, labels))
    def check(data: bytes):
        path = tmp_path_factory.mktemp("layout") / "train.csv"
        path.write_bytes(data)
        loaded_labels, loaded_pixels = nb.load_digits_csv(path, "train")
        np.testing.assert_array_equal(loaded_labels, labels)
        np.testing.assert_array_equal(loaded_pixels, pixels)

    check()


# --- mutations ----------------------------------------------------------------------------------------

positions = st.integers(min_value=0, max_value=10**6)  # taken modulo the length of what is edited
edits = st.one_of(
    st.tuples(st.just("delete"), positions, st.integers(1, 64)),
    st.tuples(st.just("duplicate"), positions, st.integers(1, 64)),
    st.tuples(st.just("insert"), positions, st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("insert"), positions, st.sampled_from([b'"', b",", b"\n", b"\r", b"\x00", b" ", b"-"])),
    st.tuples(st.just("flip a bit"), positions, st.integers(0, 7)),
    st.tuples(st.just("truncate"), positions, st.just(0)),
    st.tuples(st.just("swap fields"), positions, positions),
)


def edited(data: bytes, edit: tuple) -> bytes:
    """The bytes after one edit."""
    kind, at, arg = edit
    if not data:
        return arg if kind == "insert" else data
    at %= len(data)
    if kind == "delete":
        return data[:at] + data[at + arg :]
    if kind == "duplicate":
        return data[: at + arg] + data[at : at + arg] + data[at + arg :]
    if kind == "insert":
        return data[:at] + arg + data[at:]
    if kind == "flip a bit":
        return data[:at] + bytes([data[at] ^ (1 << arg)]) + data[at + 1 :]
    if kind == "truncate":
        return data[:at]
    fields = data.split(b",")  # swap fields
    i, j = at % len(fields), arg % len(fields)
    fields[i], fields[j] = fields[j], fields[i]
    return b",".join(fields)


def check_loaded_or_refused(nb, path, kind: str) -> None:
    """The loader gives well-formed digits, or its own error: one line naming the file."""
    try:
        labels, pixels = nb.load_digits_csv(path, kind)
    except nb.DigitDataError as error:
        message = str(error)
        assert message.startswith(f"{path}") and "\n" not in message, message
        return
    assert pixels.dtype == np.uint8 and pixels.ndim == 2 and pixels.shape[1] == 784 and len(pixels) > 0
    if kind == "train":
        assert labels is not None
    if labels is not None:
        assert labels.dtype == np.uint8 and labels.shape == (len(pixels),) and labels.max() <= 9


def test_mutated_files_load_or_fail_with_the_loaders_error(nb, tmp_path_factory, four_digits):
    pixels, labels = four_digits
    text = "label," + ",".join(PIXEL_NAMES) + "\n"
    text += "".join(",".join(map(str, [lab, *row])) + "\n" for row, lab in zip(pixels, labels, strict=True))

    @PROPERTY_SETTINGS
    @given(
        encoding=st.sampled_from(
            ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252"]
        ),
        compression=st.sampled_from(["none", "none", "gzip", "zip"]),
        before=st.lists(edits, max_size=4),  # edits of the text, then of the (compressed) file
        after=st.lists(edits, max_size=2),
        kind=st.sampled_from(["train", "test"]),
    )
    def check(encoding, compression, before, after, kind):
        data = text.encode(encoding)
        for edit in before:
            data = edited(data, edit)
        data = compressed(data, compression)
        for edit in after:
            data = edited(data, edit)
        path = tmp_path_factory.mktemp("mutated") / "train.csv"
        path.write_bytes(data)
        check_loaded_or_refused(nb, path, kind)
        assert path.read_bytes() == data  # the CSV is never changed

    check()


def test_random_bytes_load_or_fail_with_the_loaders_error(nb, tmp_path_factory):
    @PROPERTY_SETTINGS
    @given(
        data=st.one_of(
            st.binary(max_size=4096),
            st.lists(
                st.sampled_from([b"0", b"9", b"255", b"256", b",", b"\n", b'"', b"label", b"pixel1", b" "])
            ).map(b"".join),
        ),
        kind=st.sampled_from(["train", "test"]),
    )
    def check(data, kind):
        path = tmp_path_factory.mktemp("random") / "test.csv"
        path.write_bytes(data)
        check_loaded_or_refused(nb, path, kind)

    check()


def test_mutated_cache_never_crashes_nor_disagrees_with_the_csv(nb, tmp_path_factory, four_digits):
    pixels, labels = four_digits
    text = "".join(",".join(map(str, [lab, *row])) + "\n" for row, lab in zip(pixels, labels, strict=True))
    first = tmp_path_factory.mktemp("cache") / "train.csv"
    first.write_text(text)
    nb.load_digits_csv(first, "train")
    good_cache = nb.cache_path_for(first).read_bytes()

    @PROPERTY_SETTINGS
    @given(mutations=st.lists(edits, min_size=1, max_size=3))
    def check(mutations):
        path = tmp_path_factory.mktemp("cache") / "train.csv"
        path.write_text(text)
        cache = nb.cache_path_for(path)
        damaged = good_cache
        for edit in mutations:
            damaged = edited(damaged, edit)
        cache.write_bytes(damaged)
        for _ in range(2):  # the load after the damage, and the next one (from the rebuilt cache)
            loaded_labels, loaded_pixels = nb.load_digits_csv(path, "train")
            np.testing.assert_array_equal(loaded_labels, labels)
            np.testing.assert_array_equal(loaded_pixels, pixels)
        assert sorted(p.name for p in path.parent.iterdir()) == ["train.csv", "train.csv.cache.npz"]

    check()


# --- zip archives in the data folder -------------------------------------------------------------------

MEMBER_NAMES = st.sampled_from(
    [
        "train.csv",
        "test.csv",
        "Train.CSV",
        "a/train.csv",
        "b/train.csv",
        "a\\test.csv",
        "__MACOSX/._train.csv",
        ".train.abcd1234.tmp.csv",
        "../train.csv",
        "/etc/test.csv",
        "train.csv.gz",
        "notes.txt",
        "folder/",
    ]
)
METHODS = st.sampled_from(
    [zipfile.ZIP_STORED] + [zipfile.ZIP_DEFLATED] * 3 + [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, DEFLATE64, 99]
)


@st.composite
def zip_members(draw, text: bytes) -> Member:
    """A member of a handmade zip: an odd name, a CSV or random bytes, any method, flags and sizes that may lie."""
    return Member(
        name=draw(MEMBER_NAMES),
        data=draw(st.one_of(st.just(text), st.binary(max_size=64))),
        method=draw(METHODS),
        flags=draw(st.sampled_from([0] * 5 + [ENCRYPTED, 0x800])),  # 0x800: the name is UTF-8
        size=draw(st.one_of(*[st.none()] * 3, st.integers(0, 2**32 - 1))),
        crc=draw(st.one_of(*[st.none()] * 3, st.just(0))),
    )


def test_zip_members_are_unpacked_faithfully_or_refused_in_one_line(nb, tmp_path_factory, four_digits):
    pixels, labels = four_digits
    text = ("label," + ",".join(PIXEL_NAMES) + "\n").encode()
    text += b"".join(
        ",".join(map(str, [lab, *row])).encode() + b"\n" for row, lab in zip(pixels, labels, strict=True)
    )

    @PROPERTY_SETTINGS
    @given(
        members=st.lists(zip_members(text), min_size=1, max_size=4),
        after=st.one_of(
            st.just([]), st.just([]), st.lists(edits, min_size=1, max_size=2)
        ),  # of the zip's bytes
    )
    def check(members, after):
        archive_bytes = zip_of(members)
        for edit in after:
            archive_bytes = edited(archive_bytes, edit)
        outside = tmp_path_factory.mktemp("zip")
        data = outside / "data"
        data.mkdir()
        (data / "test.csv").write_bytes(b"mine")
        archive = data / "digit-recognizer.zip"
        archive.write_bytes(archive_bytes)
        try:
            train, _ = nb.find_local_data(data)
            event(f"found {'a' if train else 'no'} train.csv")
        except nb.DataSourceError as error:
            message = str(error)
            assert message.startswith(str(archive)) and "\n" not in message, message
            event(f"refused: {message.removeprefix(str(archive)).split('(')[0][:50]}")
        assert os.listdir(outside) == ["data"]  # nothing written beside the data folder (../train.csv)
        assert (data / "test.csv").read_bytes() == b"mine"  # never replaced
        unpacked = set(os.listdir(data)) - {archive.name, "test.csv"}
        assert unpacked <= {"train.csv", "Train.CSV", "train.csv.gz"}  # no temporary file, no hidden copy
        for name in unpacked:
            if not after:  # an untouched archive: the file is the content of a member of that name
                sources = [m.data for m in members if m.name.replace("\\", "/").rsplit("/", 1)[-1] == name]
                assert (data / name).read_bytes() in sources

    check()
