"""Small copies of the public dataset layouts, written the way their publishers write them.

- SAT as ``array/SAT`` stores it: ``SAT_{train,static,val,test}.parquet`` written with
  pyarrow, ``image_bytes`` a ``list<binary>``, plus the dataset card whose ``configs``
  map splits to files (the card's text as published);
- SAT in the ``datasets`` Image-feature variant (``image_bytes``: ``list<struct<bytes, path>>``
  with the HF features metadata), as ``load_dataset(...).to_parquet`` or ``push_to_hub`` write it;
- SAT as re-hosted for lmms-eval's ``sat`` task: ``correct_answer_idx`` instead of
  ``correct_answer``, images as an Image-feature list;
- FGVC-Aircraft's official archive ``fgvc-aircraft-2013b/data/`` (torchvision's reading:
  ``<id> <variant>`` lines split on the first space, ``variants.txt`` order = class index),
  with real variant names holding spaces and ``/``;
- FGVC-Aircraft as the parquet conversion of ``HuggingFaceM4/FGVC-Aircraft``:
  ``data/{train,validation,test}-0000N-of-00002.parquet`` with ``image``, ``bbox`` and
  ``family``/``manufacturer``/``variant`` ClassLabels, and its card.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image


def png(color: str, size: tuple[int, int] = (16, 12)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def jpg(path: Path, size: tuple[int, int] = (64, 48)) -> None:
    """A photo whose bottom 20 px are a white 'copyright strip' (as in the archive)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, (30, 60, 120))
    image.paste((255, 255, 255), (0, size[1] - 20, size[0], size[1]))
    image.save(path, format="JPEG", quality=95)


# -- SAT ----------------------------------------------------------------------------

SAT_CARD = """---
license: mit
configs:
- config_name: default
  data_files:
  - split: train
    path: "SAT_train.parquet"
  - split: static
    path: "SAT_static.parquet"
  - split: val
    path: "SAT_val.parquet"
  - split: test
    path: "SAT_test.parquet"
dataset_info:
  features:
  - name: image_bytes
    list:
      dtype: image
  - name: question
    dtype: string
  - name: answers
    list:
      dtype: string
  - name: question_type
    dtype: string
  - name: correct_answer
    dtype: string
---
# SAT: Spatial Aptitude Training for Multimodal Language Models
"""


def sat_rows(split: str, n: int) -> list[dict]:
    """``n`` rows of ``split``: one or two images, two to four answers, the right one named by text."""
    kinds = ("ego_movement", "obj_movement", "action_consequence", "goal_aim", "perspective")
    rows = []
    for i in range(n):
        answers = [f"{split} answer {i}.{k}" for k in range(2 + i % 3)]
        rows.append(
            {
                "image_bytes": [png("red"), png("blue")][: 1 + i % 2],
                "question": f"{split} question {i}: which way did the camera move?",
                "answers": answers,
                "question_type": kinds[i % len(kinds)],
                "correct_answer": answers[i % len(answers)],
            }
        )
    return rows


def write_sat_raw(path: Path, rows: list[dict]) -> None:
    """A SAT parquet as upstream writes it: pyarrow, ``image_bytes`` as ``list<binary>``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("image_bytes", pa.list_(pa.binary())),
            ("question", pa.string()),
            ("answers", pa.list_(pa.string())),
            ("question_type", pa.string()),
            ("correct_answer", pa.string()),
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


SAT_SIZES = {"train": 5, "static": 7, "val": 3, "test": 4}


def sat_snapshot_files(sizes: dict[str, int] = SAT_SIZES) -> dict[str, bytes]:
    """The files of the ``array/SAT`` repo (card + one raw parquet per split), as bytes."""
    import tempfile

    files = {"README.md": SAT_CARD.encode()}
    with tempfile.TemporaryDirectory() as tmp:
        for split, n in sizes.items():
            path = Path(tmp) / f"SAT_{split}.parquet"
            write_sat_raw(path, sat_rows(split, n))
            files[path.name] = path.read_bytes()
    return files


def write_files(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


def write_sat_image_feature(path: Path, rows: list[dict]) -> None:
    """The ``datasets`` Image-feature variant: ``image_bytes`` a list of Image structs."""
    import datasets

    features = datasets.Features(
        {
            "image_bytes": datasets.List(datasets.Image()),
            "question": datasets.Value("string"),
            "answers": datasets.List(datasets.Value("string")),
            "question_type": datasets.Value("string"),
            "correct_answer": datasets.Value("string"),
        }
    )
    data = [{**r, "image_bytes": [{"bytes": b, "path": None} for b in r["image_bytes"]]} for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(data, features=features).to_parquet(str(path))


def write_sat_lmms(path: Path, rows: list[dict]) -> None:
    """lmms-eval's re-hosted copy: ``correct_answer_idx`` (int) in place of ``correct_answer``."""
    import datasets

    features = datasets.Features(
        {
            "image_bytes": datasets.List(datasets.Image()),
            "question": datasets.Value("string"),
            "answers": datasets.List(datasets.Value("string")),
            "question_type": datasets.Value("string"),
            "correct_answer_idx": datasets.Value("int64"),
        }
    )
    data = [
        {
            "image_bytes": [{"bytes": b, "path": None} for b in r["image_bytes"]],
            "question": r["question"],
            "answers": r["answers"],
            "question_type": r["question_type"],
            "correct_answer_idx": r["answers"].index(r["correct_answer"]),
        }
        for r in rows
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(data, features=features).to_parquet(str(path))


# -- FGVC-Aircraft ---------------------------------------------------------------------

# A slice of the real variants.txt (order kept), including names with spaces and "/".
FGVC_VARIANTS = ["707-320", "737-300", "A320", "Cessna 172", "F-16A/B", "F/A-18"]
FGVC_MAKERS = {
    "707-320": "Boeing",
    "737-300": "Boeing",
    "A320": "Airbus",
    "Cessna 172": "Cessna",
    "F-16A/B": "Lockheed Martin",
    "F/A-18": "McDonnell Douglas",
}
FGVC_FAMILIES = {
    "707-320": "Boeing 707",
    "737-300": "Boeing 737",
    "A320": "A320",
    "Cessna 172": "Cessna 172",
    "F-16A/B": "F-16",
    "F/A-18": "F/A-18",
}
FGVC_SPLITS = {
    "train": [("1025794", "Cessna 172"), ("0062765", "F/A-18"), ("2033581", "F-16A/B")],
    "val": [("0340432", "707-320"), ("1514522", "Cessna 172")],
    "test": [("0056978", "A320"), ("0450014", "F/A-18"), ("1042824", "737-300"), ("0698580", "F-16A/B")],
}


def write_fgvc_official(root: Path) -> Path:
    """``fgvc-aircraft-2013b/data/`` with images, per-split variant/family/manufacturer listings."""
    data = root / "fgvc-aircraft-2013b" / "data"
    for split, items in {**FGVC_SPLITS, "trainval": FGVC_SPLITS["train"] + FGVC_SPLITS["val"]}.items():
        for image_id, _ in items:
            if not (data / "images" / f"{image_id}.jpg").exists():
                jpg(data / "images" / f"{image_id}.jpg")
        for level, table in (("variant", None), ("family", FGVC_FAMILIES), ("manufacturer", FGVC_MAKERS)):
            lines = "".join(f"{i} {v if table is None else table[v]}\n" for i, v in items)
            (data / f"images_{level}_{split}.txt").write_text(lines, encoding="utf-8")
    (data / "variants.txt").write_text("\n".join(FGVC_VARIANTS) + "\n", encoding="utf-8")
    return root / "fgvc-aircraft-2013b"


FGVC_CARD = """---
dataset_info:
  features:
  - name: image
    dtype: image
  - name: bbox
    struct:
    - name: ymin
      dtype: int64
    - name: xmin
      dtype: int64
    - name: ymax
      dtype: int64
    - name: xmax
      dtype: int64
  - name: family
    dtype:
      class_label:
        names: {families}
  - name: manufacturer
    dtype:
      class_label:
        names: {makers}
  - name: variant
    dtype:
      class_label:
        names: {variants}
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
  - split: validation
    path: data/validation-*
  - split: test
    path: data/test-*
---
"""


def fgvc_hub_files() -> dict[str, bytes]:
    """The parquet conversion of HuggingFaceM4/FGVC-Aircraft (two shards per split) and its card."""
    import json
    import tempfile

    import datasets

    families = sorted(set(FGVC_FAMILIES.values()))
    makers = sorted(set(FGVC_MAKERS.values()))
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "bbox": {k: datasets.Value("int64") for k in ("ymin", "xmin", "ymax", "xmax")},
            "family": datasets.ClassLabel(names=families),
            "manufacturer": datasets.ClassLabel(names=makers),
            "variant": datasets.ClassLabel(names=FGVC_VARIANTS),
        }
    )
    card = FGVC_CARD.format(
        families=json.dumps(families), makers=json.dumps(makers), variants=json.dumps(FGVC_VARIANTS)
    )
    files = {"README.md": card.encode()}
    with tempfile.TemporaryDirectory() as tmp:
        for split, hub_split in (("train", "train"), ("val", "validation"), ("test", "test")):
            rows = [
                {
                    "image": {"bytes": png("green", (64, 28)), "path": None},
                    "bbox": {"ymin": 1, "xmin": 2, "ymax": 20, "xmax": 60},
                    "family": families.index(FGVC_FAMILIES[v]),
                    "manufacturer": makers.index(FGVC_MAKERS[v]),
                    "variant": FGVC_VARIANTS.index(v),
                }
                for _, v in FGVC_SPLITS[split]
            ]
            ds = datasets.Dataset.from_list(rows, features=features)
            for k in range(2):
                name = f"data/{hub_split}-{k:05d}-of-00002.parquet"
                path = Path(tmp) / name
                path.parent.mkdir(parents=True, exist_ok=True)
                ds.shard(2, k, contiguous=True).to_parquet(str(path))
                files[name] = path.read_bytes()
    return files
