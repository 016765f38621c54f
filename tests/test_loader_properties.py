"""Property-based tests of the notebook's CSV loader and its cache (hypothesis): random and mutated files
either load as well-formed digits or fail with the loader's own one-line error, and a cache never
disagrees with its CSV."""

import gzip
import io
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
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
