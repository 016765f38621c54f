"""The notebook's CSV loader: awkward-but-valid files load, every broken one fails with its exact error."""

import gzip
import os
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


def test_fast_and_careful_parsers_agree(nb, tmp_path, digits):
    pixels, labels = digits
    text = csv_text(pixels, labels)
    names = nb.column_names(KAGGLE_HEADER.split(","), has_header=True)
    fast = nb.parse_rows_fast(text.encode(), 785, has_header=True)
    careful = nb.parse_rows_carefully(tmp_path / "x.csv", text, names, has_header=True)
    np.testing.assert_array_equal(fast, careful)
    np.testing.assert_array_equal(fast[:, 0], labels)


# --- the binary cache ------------------------------------------------------------------------------


def test_cache_is_written_reused_and_rebuilt_when_the_csv_changes(nb, tmp_path, digits):
    pixels, labels = digits
    path = write(tmp_path / "train.csv", csv_text(pixels, labels))
    nb.load_digits_csv(path, "train")
    cache = nb.cache_path_for(path)
    assert cache.is_file() and cache.stat().st_size < path.stat().st_size

    # The cache is what the second load reads: a changed cache with the same stamp shows through.
    with np.load(cache) as cached:
        arrays = dict(cached)
    arrays["labels"] = (arrays["labels"] + 1) % 10
    np.savez(cache, **arrays)
    cached_labels, _ = nb.load_digits_csv(path, "train")
    np.testing.assert_array_equal(cached_labels, (labels + 1) % 10)

    # A new CSV (other size and time) is parsed again.
    changed = labels.copy()
    changed[0] = 7 if labels[0] != 7 else 3
    write(path, csv_text(pixels, changed) + "\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    reloaded, _ = nb.load_digits_csv(path, "train")
    np.testing.assert_array_equal(reloaded, changed)


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
    ],
)
def test_bad_values_name_file_line_column_and_value(nb, tmp_path, digits, line, column, value, message):
    path = write(tmp_path / "train.csv", broken_rows(digits, line, column, value))
    with pytest.raises(nb.DigitDataError) as error:
        nb.load_digits_csv(path, "train")
    assert str(error.value) == f"{path}, {message}"


def test_row_with_too_few_fields(nb, tmp_path, digits):
    lines = csv_text(*digits).splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0]
    path = write(tmp_path / "train.csv", "\n".join(lines))
    with pytest.raises(nb.DigitDataError) as error:
        nb.load_digits_csv(path, "train")
    assert (
        str(error.value) == f'{path}, line 3: 784 fields, expected 785 (the row ends after column "pixel782")'
    )


def test_row_with_too_many_fields(nb, tmp_path, digits):
    lines = csv_text(*digits).splitlines()
    lines[5] += ",0"
    path = write(tmp_path / "train.csv", "\n".join(lines))
    with pytest.raises(nb.DigitDataError) as error:
        nb.load_digits_csv(path, "train")
    assert str(error.value) == f"{path}, line 6: 786 fields, expected 785 (the row ends with extra fields)"


def test_second_header_in_the_middle(nb, tmp_path, digits):
    lines = csv_text(*digits).splitlines()
    lines.insert(3, KAGGLE_HEADER)
    path = write(tmp_path / "train.csv", "\n".join(lines))
    with pytest.raises(nb.DigitDataError) as error:
        nb.load_digits_csv(path, "train")
    assert (
        str(error.value)
        == f"{path}, line 4: a second header line in the middle of the data: {KAGGLE_HEADER[:60]!r}"
    )


def test_empty_file(nb, tmp_path):
    path = write(tmp_path / "train.csv", "")
    with pytest.raises(nb.DigitDataError) as error:
        nb.load_digits_csv(path, "train")
    assert str(error.value) == f"{path}: the file is empty"


def test_header_only(nb, tmp_path):
    path = write(tmp_path / "train.csv", KAGGLE_HEADER + "\n")
    with pytest.raises(nb.DigitDataError) as error:
        nb.load_digits_csv(path, "train")
    assert str(error.value) == f"{path}: a header but no data rows"


def test_test_file_given_as_train(nb, tmp_path, digits):
    path = write(tmp_path / "test.csv", csv_text(digits[0], header=TEST_HEADER))
    with pytest.raises(nb.DigitDataError) as error:
        nb.load_digits_csv(path, "train")
    assert str(error.value) == (
        f"{path}, line 1: 784 columns, like a test file without labels; a training file needs 785: "
        "the label, then 784 pixels"
    )


def test_wrong_number_of_columns(nb, tmp_path):
    path = write(tmp_path / "train.csv", "label,a,b\n1,2,3\n")
    with pytest.raises(nb.DigitDataError) as error:
        nb.load_digits_csv(path, "train")
    assert str(error.value) == f"{path}, line 1: 3 columns, expected 785 (label + 784 pixels)"


def test_binary_file_is_not_text(nb, tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(nb.DigitDataError) as error:
        nb.load_digits_csv(path, "train")
    assert str(error.value) == f"{path}: is not a text CSV file (it contains binary data)"


def test_non_utf8_text_is_rejected(nb, tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(b"label,pixel0\n" + "é".encode("latin-1") * 10 + b"\n" * 5)
    with pytest.raises(nb.DigitDataError) as error:
        nb.load_digits_csv(path, "train")
    assert str(error.value) == f"{path}: is not a text CSV file (byte 13 is not UTF-8 text)"


def test_missing_file(nb, tmp_path):
    with pytest.raises(nb.DigitDataError) as error:
        nb.load_digits_csv(tmp_path / "nope.csv", "train")
    assert str(error.value) == f"{tmp_path / 'nope.csv'}: no such file"


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
