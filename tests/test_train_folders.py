"""`maskwatch train` on several data folders (real faces beside other sets), split per folder, and the bad
input of such folders: a groups manifest naming files that are not there, a folder missing a class; and a
three-class model scored on a two-class set (the merged two-class number of the three-class model)."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np

from maskwatch.commands import main
from maskwatch.data.split import group_split


def _write_manifest(folder, files: list[str]) -> None:
    with (folder / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "source_image"])
        writer.writerows([name, f"scene{i // 2}"] for i, name in enumerate(files))


def test_split_per_folder_puts_every_folder_in_every_split_and_keeps_its_test_set():
    labels = np.array([0, 1] * 50 + [0] * 20)
    strata = ["real"] * 100 + ["other"] * 20
    first = group_split(labels, np.arange(120), seed=0, strata=strata)
    for part in (first.train, first.val, first.test):
        assert {strata[i] for i in part} == {"real", "other"}
    # more data of another folder beside it (its items after the real ones): the real faces split alike
    more = group_split(np.concatenate([labels, [1] * 40]), np.arange(160), seed=0, strata=strata + ["more"] * 40)
    assert [i for i in more.test if i < 100] == [i for i in first.test if i < 100]
    # without strata the split is the one of before: dealt out per class only
    assert group_split(labels, np.arange(120), seed=0).test.tolist() != first.test.tolist()


def test_several_folders_train_together_and_write_the_test_predictions(tiny_dataset, tmp_path):
    worn_right_only = tmp_path / "extra"
    shutil.copytree(tiny_dataset / "with_mask", worn_right_only / "with_mask")
    out = tmp_path / "run"
    assert main(["train", str(tiny_dataset), str(worn_right_only), "--out", str(out), "--epochs", "1",
                 "--fine-tune-epochs", "0", "--image-size", "32", "--blocks", "2", "--batch-size", "8"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["classes"] == ["with_mask", "without_mask"]
    assert set(report["sources"]) == {str(tiny_dataset), str(worn_right_only)} and report["split"]["per_source"]
    with (out / "test_predictions.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == report["split"]["test"]
    assert {r["source"] for r in rows} == {str(tiny_dataset), str(worn_right_only)}
    assert all(abs(float(r["p_with_mask"]) + float(r["p_without_mask"]) - 1) < 1e-3 for r in rows)
    with (out / "val_predictions.csv").open(newline="") as handle:
        assert len(list(csv.DictReader(handle))) == report["split"]["val"]


def test_a_manifest_naming_a_missing_file_is_one_line(tiny_dataset, tmp_path, capsys):
    data = tmp_path / "real"
    shutil.copytree(tiny_dataset, data)
    _write_manifest(data, ["with_mask/00.jpg", "with_mask/gone.jpg"])
    code = main(["train", str(data), "--groups", f"{data / 'manifest.csv'}:source_image", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == (f"maskwatch train: error: {data / 'manifest.csv'}: names 1 file(s) that do not exist, "
                       "e.g. with_mask/gone.jpg")
    assert not (tmp_path / "o").exists()


def test_a_real3_like_folder_missing_a_class_is_one_line(tiny_dataset, tmp_path, capsys):
    """The folder lost its without_mask/ (an incomplete copy): trained beside a folder that has that class, it
    would quietly teach the class from the other folder only; its manifest tells."""
    data = tmp_path / "real3"
    shutil.copytree(tiny_dataset, data)
    _write_manifest(data, sorted(str(p.relative_to(data)) for p in data.rglob("*.jpg")))
    shutil.rmtree(data / "without_mask")
    code = main(["train", str(data), str(tiny_dataset), "--groups", f"{data / 'manifest.csv'}:source_image",
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == (f"maskwatch train: error: {data / 'manifest.csv'}: names 20 file(s) that do not exist, "
                       "e.g. without_mask/00.jpg")
    assert not (tmp_path / "o").exists()


def test_folders_that_hold_one_class_between_them_are_one_line(tiny_dataset, tmp_path, capsys):
    only = tmp_path / "only"
    shutil.copytree(tiny_dataset / "with_mask", only / "with_mask")
    assert main(["train", str(only), str(only), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "maskwatch train: error: the data folders hold only the class(es) ['with_mask']: at least 2 are needed")


def test_a_three_class_model_scores_a_two_class_set_with_worn_wrong_counted_as_without(tiny_dataset, capsys):
    """The two-class question asked of the three-class model (mask-classify has no worn-wrong folder)."""
    assert main(["evaluate", str(tiny_dataset), "--model", "incorrect", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 40 and report["per_class"]["mask_weared_incorrect"]["support"] == 0
    merged = report["incorrect_as_without_mask"]
    assert merged["n"] == 40 and merged["right"] >= sum(report["confusion"][i][i] for i in range(3))
