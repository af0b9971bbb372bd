"""Hostile cases, class "Confinement and integrity" (first half): what a dataset can make a loader read.

One rule (harness.data.confined_path): a relative reference, in any form, stays under the dataset
root as written and as the file system resolves it; an absolute path is the author's explicit
choice. Directory walks are lazy, confined and bounded.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _corpus_a import fgvc_official, png_bytes, sat_parquet, write_png
from _corpus_b import manifest_of, pixel

import harness
from harness.data import confined_image, walk_files

HOSTILE_CLASS = "Confinement and integrity"  # issue 16's class of these cases (for the docs table)
error, result, bounded = (pytest.mark.hostile(k) for k in ("error", "result", "bounded"))

INSIDE, SECRET = (10, 200, 30), (250, 0, 0)


@pytest.fixture
def layout(tmp_path, monkeypatch):
    """``data/`` (the dataset root, with img/a.png) next to ``outside/secret.png``; the current
    directory holds another ``secret.png``, so a path read from the wrong place would load."""
    root, outside, cwd = tmp_path / "data", tmp_path / "outside", tmp_path / "cwd"
    write_png(root / "img" / "a.png", color=INSIDE)
    write_png(outside / "secret.png", color=SECRET)
    write_png(cwd / "secret.png", color=SECRET)
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("HARNESS_DATA_ROOTS", raising=False)
    return root, outside


def banner_rows(root: Path, *values) -> list:
    return list(harness.get_task("banner").samples("test", source=manifest_of(root, list(values))))


# -- every form of image reference, one rule --------------------------------------------


@error
@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("../outside/secret.png", "escapes the dataset root"),
        ("img/../../outside/secret.png", "escapes the dataset root"),
        ({"path": "../outside/secret.png"}, "escapes the dataset root"),
        ({"bytes": None, "path": "../outside/secret.png"}, "escapes the dataset root"),
        ({"bytes": "secret.png"}, "holds text"),  # was opened relative to the current directory
        ({"bytes": "../outside/secret.png", "path": "img/a.png"}, "holds text"),
        ({"bytes": 12345}, "holds int, not bytes"),
        ({"bytes": None, "path": None}, "neither bytes nor a path"),
        ("file:../outside/secret.png", "escapes the dataset root"),
        ("file://otherhost/outside/secret.png", "names the host 'otherhost'"),
        ("http://example.com/secret.png", "never fetches images from a network"),
        ("s3://bucket/secret.png", "never fetches images from a network"),
        ("data:image/png;base64,iVBORw0KGgo=", "never fetches images from a network"),
        ("~/secret.png", "starts with '~'"),
        ("img/a.png\x00.jpg", "NUL character"),
        ("", "column 'image' is empty"),
    ],
)
def test_a_manifest_reference_cannot_leave_its_root_in_any_form(layout, value, fragment):
    root, _ = layout
    with pytest.raises(harness.DataError) as err:
        banner_rows(root, value)
    message = str(err.value)
    assert message.startswith(f"{root / 'test.jsonl'}, row 1: ") and fragment in message, message
    assert "\n" not in message


@result
@pytest.mark.parametrize(
    "value",
    [
        "img/a.png",
        "./img/a.png",
        "img/../img/a.png",
        "file:img/a.png",
        {"path": "img/a.png"},
        {"bytes": None, "path": "img/a.png"},
    ],
)
def test_references_inside_the_root_load_the_right_image(layout, value):
    root, _ = layout
    [sample] = banner_rows(root, value)
    assert pixel(sample.images[0]) == INSIDE


@result
@pytest.mark.parametrize("form", ["path", "file-url", "file-url-localhost"])
def test_an_absolute_path_is_the_authors_explicit_choice_and_loads(layout, form):
    root, outside = layout
    target = outside / "secret.png"
    value = {
        "path": str(target),
        "file-url": target.as_uri(),
        "file-url-localhost": "file://localhost" + target.as_posix(),
    }[form]
    [sample] = banner_rows(root, value)
    assert pixel(sample.images[0]) == SECRET


@result
def test_embedded_bytes_pass_and_a_percent_encoded_file_url_is_decoded(layout, tmp_path):
    root, _ = layout
    spaced = write_png(tmp_path / "out side" / "x y.png", color=(1, 2, 3))
    embedded = png_bytes(color=(4, 5, 6))
    assert confined_image(root, {"bytes": embedded, "path": "ignored.png"}, "m", 1) == embedded
    assert confined_image(root, spaced.as_uri(), "m", 1) == spaced
    assert "%20" in spaced.as_uri()


# -- symbolic links ---------------------------------------------------------------------


@error
@pytest.mark.parametrize("link", ["file", "folder", "root-level-folder"])
def test_a_symlink_leading_out_of_the_root_is_refused_naming_it(layout, link):
    root, outside = layout
    if link == "file":
        (root / "img" / "link.png").symlink_to(outside / "secret.png")
        value, named = "img/link.png", root / "img" / "link.png"
    elif link == "folder":
        (root / "img" / "more").symlink_to(outside)
        value, named = "img/more/secret.png", root / "img" / "more"
    else:
        (root / "shared").symlink_to(outside)
        value, named = "shared/secret.png", root / "shared"
    with pytest.raises(harness.DataError) as err:
        banner_rows(root, value)
    message = str(err.value)
    assert f"{named} is a symbolic link to {outside}" in message, message
    assert "HARNESS_DATA_ROOTS" in message  # the fix


@error
def test_a_symlink_loop_is_named_not_followed_forever(layout):
    root, _ = layout
    (root / "img" / "loop.png").symlink_to("loop.png")
    with pytest.raises(harness.DataError, match="loop of symbolic links"):
        banner_rows(root, "img/loop.png")


@result
def test_links_inside_the_root_a_hub_snapshot_and_listed_roots_are_followed(layout, tmp_path, monkeypatch):
    root, outside = layout
    (root / "img" / "alias.png").symlink_to(root / "img" / "a.png")
    assert pixel(banner_rows(root, "img/alias.png")[0].images[0]) == INSIDE
    # huggingface_hub's cache: snapshots/<rev>/<file> -> ../../blobs/<hash>
    repo = tmp_path / "hub" / "datasets--org--banners"
    snapshot = repo / "snapshots" / "0123abc"
    write_png(repo / "blobs" / "5e1f", color=(7, 8, 9))
    (snapshot / "img").mkdir(parents=True)
    (snapshot / "img" / "b.png").symlink_to(Path("..", "..", "..", "blobs", "5e1f"))
    assert pixel(banner_rows(snapshot, "img/b.png")[0].images[0]) == (7, 8, 9)
    # a folder the user lists on purpose
    (root / "img" / "link.png").symlink_to(outside / "secret.png")
    monkeypatch.setenv("HARNESS_DATA_ROOTS", os.pathsep.join(["/nonexistent", str(outside)]))
    assert pixel(banner_rows(root, "img/link.png")[0].images[0]) == SECRET


# -- the other layouts use the same rule ----------------------------------------------------


@error
@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ([{"bytes": None, "path": "../outside/secret.png"}], "escapes the dataset root"),
        (["../outside/secret.png"], "escapes the dataset root"),
        ([{"bytes": None, "path": "secret.png"}], "does not exist"),  # under the root, not the cwd
    ],
)
def test_sat_parquet_image_references_are_confined(layout, value, fragment):
    root, _ = layout
    source = sat_parquet(
        root / "SAT_test.parquet",
        [{"image_bytes": value, "question": "Which is left?", "answers": ["cube", "ball"], "correct_answer": "cube"}],
    )
    with pytest.raises(harness.DataError, match=fragment) as err:
        list(harness.get_task("sat").samples("test", source=str(source)))
    assert str(err.value).startswith(f"{source}, row 0: ")


def fgvc_archive(root: Path) -> Path:
    return fgvc_official(root, b"0001 737-300\n", b"737-300\n", ids=["0001"])


@error
def test_an_fgvc_image_linked_out_of_the_archive_is_refused(layout, tmp_path):
    _, outside = layout
    archive = fgvc_archive(tmp_path / "fgvc")
    image = archive / "data" / "images" / "0001.jpg"
    image.unlink()
    image.symlink_to(outside / "secret.png")
    with pytest.raises(harness.DataError, match=r"images_variant_test.txt, row 1: .*0001.jpg is a symbolic link"):
        list(harness.get_task("fgvc").samples("test", source=str(archive)))


@error
def test_an_fgvc_data_folder_linked_out_of_the_source_is_refused(tmp_path):
    real = fgvc_archive(tmp_path / "elsewhere")
    source = tmp_path / "source"
    source.mkdir()
    (source / "data").symlink_to(real / "data")
    with pytest.raises(harness.DataError, match=r"FGVC data folder .*data is a symbolic link"):
        list(harness.get_task("fgvc").samples("test", source=str(source)))
    assert len(list(harness.get_task("fgvc").samples("test", source=str(real)))) == 1  # the real folder works


# -- directory walks ------------------------------------------------------------------------


def class_folders(root: Path, per_folder: int = 3, subfolders: str = "abcde") -> Path:
    for label in ("positive", "negative"):
        for sub in subfolders:
            for i in range(per_folder):
                write_png(root / label / sub / f"{i}.png", color=(i, 0, 0))
    return root


@bounded
@pytest.mark.parametrize("where", ["positive", "test", "negative"])
def test_a_class_or_split_folder_linked_to_the_filesystem_root_is_refused_at_once(tmp_path, where):
    root = tmp_path / "banners"
    other = "positive" if where == "negative" else "negative"
    write_png(root / other / "x.png", color=INSIDE)
    (root / where).symlink_to("/")
    with pytest.raises(harness.DataError) as err:
        list(harness.get_task("banner").samples("test", source=str(root), limit=2))
    assert f"{root / where} is a symbolic link to /, outside the dataset root" in str(err.value)


@bounded
def test_a_limit_stops_the_class_folder_walk_after_what_it_needs(tmp_path, monkeypatch):
    root = class_folders(tmp_path / "banners")
    listed: list[Path] = []
    real_scandir = os.scandir

    def scandir(path="."):
        listed.append(Path(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    samples = list(harness.get_task("banner").samples("test", source=str(root), limit=2))
    assert [s.id for s in samples] == ["positive/a/0.png", "positive/a/1.png"]
    walked = {p.relative_to(root).as_posix() for p in listed if p != root and p.is_relative_to(root)}
    # probing for a datasets cache lists the class folders; the walk itself lists only positive/a
    assert walked == {"positive", "negative", "positive/a"}, walked


@result
def test_a_walk_follows_links_inside_the_root_once_and_survives_loops(tmp_path):
    root = tmp_path / "banners"
    write_png(root / "positive" / "p.png", color=INSIDE)
    write_png(root / "extra" / "x.png", color=INSIDE)
    write_png(root / "negative" / "n.png", color=INSIDE)
    (root / "positive" / "loop").symlink_to("..")  # back up to the root: a loop
    (root / "positive" / "self").symlink_to(".")
    (root / "positive" / "more").symlink_to(root / "extra")  # a sibling folder: followed
    ids = sorted(s.id for s in harness.get_task("banner").samples("test", source=str(root)))
    assert ids == ["negative/n.png", "positive/more/x.png", "positive/p.png"]


@bounded
def test_a_walk_too_deep_is_refused_naming_the_folder(tmp_path):
    root = tmp_path / "banners"
    deep = root / "positive" / Path(*[f"d{i}" for i in range(40)])
    write_png(deep / "x.png", color=INSIDE)
    write_png(root / "negative" / "n.png", color=INSIDE)
    with pytest.raises(harness.DataError, match=r"more than 32 folder levels below .*positive"):
        list(harness.get_task("banner").samples("test", source=str(root)))


@bounded
def test_a_walk_over_too_many_entries_is_refused(tmp_path):
    for i in range(30):
        (tmp_path / f"{i:02d}.png").write_bytes(b"")
    assert len(list(walk_files(tmp_path, max_entries=30))) == 30
    with pytest.raises(harness.DataError, match=r"more than 29 files and folders under it"):
        list(walk_files(tmp_path, max_entries=29))


@error
@pytest.mark.parametrize("task", ["banner", "sat", "fgvc"])
def test_split_file_discovery_refuses_a_link_out_of_the_source(layout, tmp_path, task):
    root, outside = layout
    source = tmp_path / f"{task}-source"
    source.mkdir()
    (source / "everything").symlink_to("/")
    with pytest.raises(harness.DataError, match=r"everything is a symbolic link to /"):
        list(harness.get_task(task).samples("test", source=str(source), limit=2))
    (source / "everything").unlink()
    (source / "test.jsonl").symlink_to(outside / "secret.png")  # a manifest linked out of the source
    if task == "banner":
        with pytest.raises(harness.DataError, match=r"data file .*test.jsonl is a symbolic link"):
            list(harness.get_task(task).samples("test", source=str(source), limit=2))
