"""The notebook's CSV loader: awkward-but-valid files load, every broken one fails with its exact error."""

import gzip
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

KAGGLE_HEADER = ",".join(["label"] + [f"pixel{i}" for i in range(784)])
OTHER_HEADER = ",".join(["label"] + [f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)])
TEST_HEADER = ",".join(f"pixel{i}" for i in range(784))


def csv_text(pixels, labels=None, header=KAGGLE_HEADER, newline="\n", final_newline=True) -> str:
    """Digits as CSV text, with the given header (None for none) and line ends."""
    rows = [
        ",".join(map(str, ([lab] if labels is not None else []) + list(px)))
        for px, lab in _pairs(pixels, labels)
    ]
    lines = ([header] if header else []) + rows
    return newline.join(lines) + (newline if final_newline else "")


def _pairs(pixels, labels):
    return zip(pixels, labels if labels is not None else [None] * len(pixels), strict=True)


@pytest.fixture
def digits(real_digits):
    """Twenty real digits, two of each class."""
    pixels, labels = real_digits
    rows = np.concatenate([np.flatnonzero(labels == d)[:2] for d in range(10)])
    return pixels[rows], labels[rows]


def write(path, text: str, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def refusal(nb, path, kind: str = "train") -> str:
    """The message of the error that loading the file raises."""
    with pytest.raises(nb.DigitDataError) as error:
        nb.load_digits_csv(path, kind)
    return str(error.value)


# --- files that vary but are valid ---------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    ["kaggle header", "no header", "other header", "crlf", "bom", "no final newline", "trailing blank lines"],
)
def test_valid_variants_load_the_same_digits(nb, tmp_path, digits, variant):
    pixels, labels = digits
    text = {
        "kaggle header": csv_text(pixels, labels),
        "no header": csv_text(pixels, labels, header=None),
        "other header": csv_text(pixels, labels, header=OTHER_HEADER),
        "crlf": csv_text(pixels, labels, newline="\r\n"),
        "bom": "\ufeff" + csv_text(pixels, labels),
        "no final newline": csv_text(pixels, labels, final_newline=False),
        "trailing blank lines": csv_text(pixels, labels) + "\n\n",
    }[variant]
    loaded_labels, loaded_pixels = nb.load_digits_csv(write(tmp_path / "train.csv", text), "train")
    np.testing.assert_array_equal(loaded_labels, labels)
    np.testing.assert_array_equal(loaded_pixels, pixels)
    assert loaded_pixels.dtype == np.uint8 and loaded_pixels.shape == (20, 784)


def test_gzip_and_zip_files_load(nb, tmp_path, digits):
    pixels, labels = digits
    gz = tmp_path / "train.csv.gz"
    gz.write_bytes(gzip.compress(csv_text(pixels, labels).encode()))
    zipped = tmp_path / "train.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("train.csv", csv_text(pixels, labels))
    for path in (gz, zipped):
        loaded_labels, loaded_pixels = nb.load_digits_csv(path, "train")
        np.testing.assert_array_equal(loaded_labels, labels)
        np.testing.assert_array_equal(loaded_pixels, pixels)


def test_test_file_loads_with_or_without_labels(nb, tmp_path, digits):
    pixels, labels = digits
    unlabelled = write(tmp_path / "test.csv", csv_text(pixels, header=TEST_HEADER))
    no_labels, loaded = nb.load_digits_csv(unlabelled, "test")
    assert no_labels is None
    np.testing.assert_array_equal(loaded, pixels)
    labelled = write(tmp_path / "test_labelled.csv", csv_text(pixels, labels))
    loaded_labels, _ = nb.load_digits_csv(labelled, "test")
    np.testing.assert_array_equal(loaded_labels, labels)


def header_with(names: list[str]) -> str:
    return ",".join(names)


PIXEL_NAMES = [f"pixel{i}" for i in range(784)]


def reordered_csv(pixels, labels, order: list[int], names: list[str]) -> str:
    """Digits as CSV whose column j holds Kaggle's column order[j] (0: the label), under the given names."""
    table = np.column_stack([labels, pixels])[:, order]
    return "\n".join([",".join(names)] + [",".join(map(str, row)) for row in table]) + "\n"


@pytest.mark.parametrize(
    "layout",
    ["label last", "label in the middle", "pixels shuffled", "pixel1 to pixel784", "1x1 to 28x28 shuffled"],
)
def test_columns_are_read_by_their_header_names(nb, tmp_path, digits, layout):
    pixels, labels = digits
    kaggle = ["label", *PIXEL_NAMES]
    shuffled = [0, *(np.random.default_rng(3).permutation(784) + 1)]
    order = {
        "label last": [*range(1, 785), 0],
        "label in the middle": [*range(1, 400), 0, *range(400, 785)],
        "pixels shuffled": shuffled,
        "pixel1 to pixel784": list(range(785)),
        "1x1 to 28x28 shuffled": shuffled,
    }[layout]
    names = {
        "pixel1 to pixel784": ["label"] + [f"pixel{i + 1}" for i in range(784)],
        "1x1 to 28x28 shuffled": [OTHER_HEADER.split(",")[j] for j in order],
    }.get(layout, [kaggle[j] for j in order])
    path = write(tmp_path / "train.csv", reordered_csv(pixels, labels, order, names))
    loaded_labels, loaded_pixels = nb.load_digits_csv(path, "train")
    np.testing.assert_array_equal(loaded_labels, labels)
    np.testing.assert_array_equal(loaded_pixels, pixels)
    assert loaded_pixels.flags.c_contiguous


def test_labelled_test_file_with_the_label_last_gives_its_real_labels(nb, tmp_path, digits):
    pixels, labels = digits
    names = [*PIXEL_NAMES, "label"]
    path = write(tmp_path / "test.csv", reordered_csv(pixels, labels, [*range(1, 785), 0], names))
    test_labels, test_pixels = nb.load_digits_csv(path, "test")
    np.testing.assert_array_equal(test_labels, labels)
    np.testing.assert_array_equal(test_pixels, pixels)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (
            ["label", *PIXEL_NAMES[:5], "foo", *PIXEL_NAMES[6:]],
            'line 1, column 7 ("foo"): neither a label nor a pixel name; expected a header like Kaggle\'s '
            "(label,pixel0,...,pixel783) or none",
        ),
        (["id", *PIXEL_NAMES], 'line 1: 785 columns but none is named "label"'),
        (
            ["label", *PIXEL_NAMES[:-1], "class"],
            'line 1: two label columns, "label" (column 1) and "class" (column 785)',
        ),
        (
            ["label", *PIXEL_NAMES[:-1], "pixel5"],
            'line 1, column 785 ("pixel5"): the same pixel as column 7 ("pixel5")',
        ),
        (
            ["label", *PIXEL_NAMES[:-1], "pixel999"],
            'line 1, column 785 ("pixel999"): no such pixel; pixels are numbered from 0 to 783, from 1 to 784, '
            "or 1x1 to 28x28",
        ),
        (
            ["label", *PIXEL_NAMES[:-1], "28x28"],
            "line 1: pixel columns named in two ways (like pixel12 and 3x4)",
        ),
    ],
    ids=["unknown name", "no label", "two labels", "pixel twice", "no such pixel", "two namings"],
)
def test_header_that_cannot_be_understood_is_refused(nb, tmp_path, names, message):
    path = write(tmp_path / "train.csv", ",".join(names) + "\n" + ",".join(["3"] + ["0"] * 784) + "\n")
    assert refusal(nb, path) == f"{path}, {message}"


@pytest.mark.parametrize("header", [None, KAGGLE_HEADER], ids=["no header", "kaggle header"])
def test_quoted_values_are_numbers_and_the_first_row_is_data(nb, tmp_path, digits, header):
    pixels, labels = digits
    quoted = "\n".join(
        ",".join(f'"{v}"' for v in [lab, *row]) for row, lab in zip(pixels, labels, strict=True)
    )
    text = (f'"{header.replace(",", chr(34) + "," + chr(34))}"\n' if header else "") + quoted + "\n"
    loaded_labels, loaded_pixels = nb.load_digits_csv(write(tmp_path / "train.csv", text), "train")
    np.testing.assert_array_equal(loaded_labels, labels)
    np.testing.assert_array_equal(loaded_pixels, pixels)


def test_fast_and_careful_parsers_agree(nb, tmp_path, digits):
    pixels, labels = digits
    data = csv_text(pixels, labels).encode()
    names = KAGGLE_HEADER.split(",")
    fast = nb.parse_rows_fast(data, 785, has_header=True, label=0)
    careful = nb.parse_rows_carefully(tmp_path / "x.csv", data, names, has_header=True, label=0)
    np.testing.assert_array_equal(fast, careful)
    np.testing.assert_array_equal(fast[:, 0], labels)


# --- the binary cache ------------------------------------------------------------------------------


def test_cache_is_written_reused_and_rebuilt_when_the_csv_changes(nb, tmp_path, digits, monkeypatch):
    pixels, labels = digits
    path = write(tmp_path / "train.csv", csv_text(pixels, labels))
    nb.load_digits_csv(path, "train")
    cache = nb.cache_path_for(path)
    assert cache.is_file() and cache.stat().st_size < path.stat().st_size

    # The second load reads the cache: it needs no parsing.
    def no_parsing(*args):
        raise AssertionError("the CSV was parsed again")

    monkeypatch.setattr(nb, "parse_digits_csv", no_parsing)
    cached_labels, cached_pixels = nb.load_digits_csv(path, "train")
    np.testing.assert_array_equal(cached_labels, labels)
    np.testing.assert_array_equal(cached_pixels, pixels)
    monkeypatch.undo()

    # A new CSV (other size and time) is parsed again.
    changed = labels.copy()
    changed[0] = 7 if labels[0] != 7 else 3
    write(path, csv_text(pixels, changed) + "\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    reloaded, _ = nb.load_digits_csv(path, "train")
    np.testing.assert_array_equal(reloaded, changed)


def test_same_size_edit_that_keeps_the_old_time_is_not_served_stale(nb, tmp_path, digits):
    """cp -p, a restore from a backup or a coarse file system: same size, same modification time."""
    pixels, labels = digits
    path = write(tmp_path / "train.csv", csv_text(pixels, labels))
    nb.load_digits_csv(path, "train")
    before = path.stat()
    edited = tmp_path / "edited.csv"
    changed = labels.copy()
    changed[[0, 5]] = changed[[5, 0]] if changed[0] != changed[5] else (changed[[0, 5]] + 1) % 10
    write(edited, csv_text(pixels, changed))
    shutil.copy2(edited, path)  # cp -p
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    reloaded, _ = nb.load_digits_csv(path, "train")
    np.testing.assert_array_equal(reloaded, changed)


def cache_damage(good: bytes) -> dict[str, bytes]:
    """Ways a cache file gets damaged: cut short, emptied, one bit flipped (in the data, at the end)."""
    middle = len(good) // 2
    return {
        "truncated": good[:middle],
        "empty": b"",
        "bit flipped in the pixels": good[:middle] + bytes([good[middle] ^ 4]) + good[middle + 1 :],
        "bit flipped in the zip directory": good[:-30] + bytes([good[-30] ^ 1]) + good[-29:],
        "not a numpy file": b"not a numpy file",
    }


@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "empty",
        "bit flipped in the pixels",
        "bit flipped in the zip directory",
        "not a numpy file",
    ],
)
def test_damaged_cache_is_rebuilt_from_the_csv(nb, tmp_path, digits, damage):
    pixels, labels = digits
    path = write(tmp_path / "train.csv", csv_text(pixels, labels))
    nb.load_digits_csv(path, "train")
    cache = nb.cache_path_for(path)
    good = cache.read_bytes()
    cache.write_bytes(cache_damage(good)[damage])
    loaded_labels, loaded_pixels = nb.load_digits_csv(path, "train")
    np.testing.assert_array_equal(loaded_labels, labels)
    np.testing.assert_array_equal(loaded_pixels, pixels)
    assert cache.read_bytes() != cache_damage(good)[damage]  # replaced by a whole cache
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.csv", "train.csv.cache.npz"]  # no temp left


def test_cache_from_the_previous_version_is_replaced(nb, tmp_path, digits):
    pixels, labels = digits
    path = write(tmp_path / "train.csv", csv_text(pixels, labels))
    stat = path.stat()
    old_stamp = np.array([1, stat.st_size, stat.st_mtime_ns], dtype=np.int64)  # version 1: size and time
    np.savez(nb.cache_path_for(path), stamp=old_stamp, pixels=pixels, labels=(labels + 1) % 10)
    loaded_labels, _ = nb.load_digits_csv(path, "train")
    np.testing.assert_array_equal(loaded_labels, labels)


def test_corrupt_cache_is_ignored(nb, tmp_path, digits):
    pixels, labels = digits
    path = write(tmp_path / "train.csv", csv_text(pixels, labels))
    nb.cache_path_for(path).write_bytes(b"not a numpy file")
    loaded_labels, _ = nb.load_digits_csv(path, "train")
    np.testing.assert_array_equal(loaded_labels, labels)


# --- broken files: one clear error naming file, line, column and value -------------------------------


def broken_rows(digits, line: int, column: int, value: str) -> str:
    """Kaggle-style CSV text whose field (line, column) is replaced; line counts the header as 1."""
    lines = csv_text(*digits).splitlines()
    fields = lines[line - 1].split(",")
    fields[column] = value
    lines[line - 1] = ",".join(fields)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("line", "column", "value", "message"),
    [
        (
            4,
            11,
            "abc",
            "line 4, column \"pixel10\": not a number, expected a pixel value from 0 to 255 (value 'abc')",
        ),
        (
            2,
            6,
            "",
            "line 2, column \"pixel5\": missing value, expected a pixel value from 0 to 255 (value '')",
        ),
        (
            7,
            300,
            "256",
            "line 7, column \"pixel299\": out of range, expected a pixel value from 0 to 255 (value '256')",
        ),
        (
            9,
            784,
            "-1",
            "line 9, column \"pixel783\": out of range, expected a pixel value from 0 to 255 (value '-1')",
        ),
        (5, 0, "10", "line 5, column \"label\": out of range, expected a label from 0 to 9 (value '10')"),
        (
            3,
            2,
            "12.5",
            "line 3, column \"pixel1\": not a whole number, expected a pixel value from 0 to 255 (value '12.5')",
        ),
        (  # a word that could name a column is still one bad value, not "a second header line"
            4,
            11,
            "x1",
            "line 4, column \"pixel10\": not a number, expected a pixel value from 0 to 255 (value 'x1')",
        ),
    ],
)
def test_bad_values_name_file_line_column_and_value(nb, tmp_path, digits, line, column, value, message):
    path = write(tmp_path / "train.csv", broken_rows(digits, line, column, value))
    assert refusal(nb, path) == f"{path}, {message}"


def test_row_with_too_few_fields(nb, tmp_path, digits):
    lines = csv_text(*digits).splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0]
    path = write(tmp_path / "train.csv", "\n".join(lines))
    assert (
        refusal(nb, path)
        == f'{path}, line 3: 784 fields, expected 785 (the row ends after column "pixel782")'
    )


def test_row_with_too_many_fields(nb, tmp_path, digits):
    lines = csv_text(*digits).splitlines()
    lines[5] += ",0"
    path = write(tmp_path / "train.csv", "\n".join(lines))
    assert refusal(nb, path) == f"{path}, line 6: 786 fields, expected 785 (the row ends with extra fields)"


def test_second_header_in_the_middle(nb, tmp_path, digits):
    lines = csv_text(*digits).splitlines()
    lines.insert(3, KAGGLE_HEADER)
    path = write(tmp_path / "train.csv", "\n".join(lines))
    assert (
        refusal(nb, path)
        == f"{path}, line 4: a second header line in the middle of the data: {KAGGLE_HEADER[:60]!r}"
    )


def test_empty_file(nb, tmp_path):
    path = write(tmp_path / "train.csv", "")
    assert refusal(nb, path) == f"{path}: the file is empty"


def test_header_only(nb, tmp_path):
    path = write(tmp_path / "train.csv", KAGGLE_HEADER + "\n")
    assert refusal(nb, path) == f"{path}: a header but no data rows"


def test_test_file_given_as_train(nb, tmp_path, digits):
    path = write(tmp_path / "test.csv", csv_text(digits[0], header=TEST_HEADER))
    assert refusal(nb, path) == (
        f"{path}, line 1: 784 columns, like a test file without labels; a training file needs 785: "
        "the label, then 784 pixels"
    )


def test_wrong_number_of_columns(nb, tmp_path):
    path = write(tmp_path / "train.csv", "label,a,b\n1,2,3\n")
    assert refusal(nb, path) == f"{path}, line 1: 3 columns, expected 785 (label + 784 pixels)"


def test_binary_file_is_not_text(nb, tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert refusal(nb, path) == f"{path}: is not a text CSV file (it contains binary data)"


def test_non_utf8_text_is_rejected(nb, tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(b"label,pixel0\n" + "é".encode("latin-1") * 10 + b"\n" * 5)
    assert refusal(nb, path) == f"{path}: is not a text CSV file (byte 13 is not UTF-8 text)"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_file_is_named_as_such(nb, tmp_path, digits, encoding):
    path = write(tmp_path / "train.csv", csv_text(*digits), encoding=encoding)
    assert (
        refusal(nb, path)
        == f'{path}: is UTF-16 text; save it as UTF-8 (in Excel: "CSV UTF-8") and load it again'
    )


def test_utf32_file_is_named_as_such(nb, tmp_path, digits):
    path = write(tmp_path / "train.csv", csv_text(*digits), encoding="utf-32")
    assert refusal(nb, path) == f"{path}: is UTF-32 text; save it as UTF-8 and load it again"


def test_broken_zip_named_train_csv_is_refused_by_name(nb, tmp_path, digits):
    zipped = tmp_path / "whole.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("train.csv", csv_text(*digits))
    path = tmp_path / "train.csv"
    path.write_bytes(zipped.read_bytes()[:200])
    assert refusal(nb, path) == f"{path}: is not a readable zip file (BadZipFile: File is not a zip file)"


def test_zip_whose_data_is_damaged_is_refused_by_name(nb, tmp_path, digits):
    path = tmp_path / "train.csv"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("train.csv", csv_text(*digits))
    data = bytearray(path.read_bytes())
    data[100] ^= 1  # in the stored CSV: its CRC-32 no longer matches
    path.write_bytes(bytes(data))
    assert (
        refusal(nb, path)
        == f"{path}: is not a readable zip file (BadZipFile: Bad CRC-32 for file 'train.csv')"
    )


def test_zip_compressed_with_bzip2_is_refused_before_unpacking(nb, tmp_path, digits):
    # Python unpacks bzip2 a whole block at a time whatever it is asked for: 4 KB of it can hold 5 GB.
    path = tmp_path / "train.csv"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as zf:
        zf.writestr("train.csv", csv_text(*digits))
    assert refusal(nb, path) == (
        f"{path}: the zip's train.csv is compressed with bzip2, which this notebook does not unpack; "
        "unzip it yourself"
    )


def test_broken_gzip_is_refused_by_name(nb, tmp_path, digits):
    compressed = gzip.compress(csv_text(*digits).encode())
    path = tmp_path / "train.csv.gz"
    path.write_bytes(compressed[:10] + bytes(50) + compressed[60:])
    assert refusal(nb, path) == (
        f"{path}: is not a readable gzip file (zlib.error: Error -3 while decompressing data: invalid stored "
        "block lengths)"
    )


def test_truncated_gzip_is_refused_by_name(nb, tmp_path, digits):
    path = tmp_path / "train.csv.gz"
    path.write_bytes(gzip.compress(csv_text(*digits).encode())[:-20])
    assert refusal(nb, path) == (
        f"{path}: is not a readable gzip file (EOFError: Compressed file ended before the end-of-stream "
        "marker was reached)"
    )


LONG_LINE = (
    "line {}: longer than 65,536 bytes; a row of 785 values takes about 3 KB, so this is not a digits CSV"
)


# Run in a fresh process: its peak memory is then the loader's alone. (With tracemalloc started and stopped
# in the test process, where TensorFlow's threads run, a test run once crashed here with a segfault.)
PEAK_GROWTH = """
import resource, sys
from notebook_helpers import load_notebook_helpers
nb = load_notebook_helpers()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    nb.load_digits_csv(sys.argv[1], "train")
except nb.DigitDataError as error:
    print(error)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


@pytest.mark.slow
@pytest.mark.parametrize("where", ["the only line", "after a header and a row"])
def test_huge_line_is_refused_quickly_within_bounded_memory(tmp_path, where):
    line = ",".join(["0"] * 10_000_000)  # 20 MB, 10 million fields
    row = ",".join(["1"] + ["0"] * 784)
    text = line if where == "the only line" else f"{KAGGLE_HEADER}\n{row}\n{line}\n{row}\n"
    path = write(tmp_path / "train.csv", text)
    child = subprocess.run(
        [sys.executable, "-c", PEAK_GROWTH, str(path)], capture_output=True, text=True, timeout=300
    )
    assert child.returncode == 0, child.stderr[-2000:]
    message, growth_kib = child.stdout.strip().splitlines()[-2:]
    assert message == f"{path}, " + LONG_LINE.format(1 if where == "the only line" else 3)
    assert int(growth_kib) * 1024 < 3 * len(
        text
    )  # the file once or twice; splitting the line took 20x its size


def test_missing_file(nb, tmp_path):
    assert refusal(nb, tmp_path / "nope.csv") == f"{tmp_path / 'nope.csv'}: no such file"


# --- too little to split ----------------------------------------------------------------------------


def test_one_class_cannot_be_split(nb, tmp_path):
    with pytest.raises(nb.DigitDataError) as error:
        nb.check_splittable(np.full(50, 3, dtype=np.uint8), 0.1, tmp_path / "train.csv")
    assert (
        str(error.value)
        == f"{tmp_path / 'train.csv'}: only digit [3] appears; training needs at least 2 classes"
    )


def test_too_few_rows_to_split(nb, tmp_path, digits):
    _, labels = digits  # two of each digit: 10% for validation is 2 rows for 10 classes
    with pytest.raises(nb.DigitDataError) as error:
        nb.check_splittable(labels, 0.1, tmp_path / "train.csv")
    assert str(error.value) == (
        f"{tmp_path / 'train.csv'}: 20 rows (2 of digit 0) are too few to hold out 10% for validation "
        "with every digit on both sides; add rows"
    )


def test_enough_rows_split(nb, tmp_path, real_digits):
    labels = real_digits[1][::25]  # 200 rows, 20 of each digit
    nb.check_splittable(labels, 0.1, tmp_path / "train.csv")  # raises nothing
    assert len(labels) == 200


# --- nothing that existed is lost --------------------------------------------------------------------


def test_failed_atomic_write_keeps_the_old_file_and_leaves_no_temp(nb, tmp_path):
    target = tmp_path / "submission.csv"
    target.write_text("the good one")

    def fails_halfway(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        nb.write_atomically(target, fails_halfway)
    assert target.read_text() == "the good one"
    assert [p.name for p in tmp_path.iterdir()] == ["submission.csv"]


def test_atomic_write_gives_normal_permissions(nb, tmp_path):
    path = nb.write_atomically(tmp_path / "metrics.json", lambda tmp: tmp.write_text("{}"))
    umask = os.umask(0o22)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
