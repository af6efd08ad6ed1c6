"""MSR-VTT -> pairs: from the Hugging Face Hub, Kaggle (user's credentials) or a folder already downloaded.

Mirrors disagree on the annotation format (the official release, CLIP4Clip's files and the Hub
and Kaggle copies each use another), so every known schema is read:
the official ``videodatainfo.json`` / CLIP4Clip ``MSRVTT_data.json`` (``videos`` + ``sentences``
keyed by ``video_id``), CLIP4Clip CSVs (``video_id``, ``sentence``), and JSON / JSONL rows whose
captions sit under ``caption``, ``sentence`` or ``captions`` as a string or a list.
MSR-VTT has no open licence: clips are downloaded only on request and never committed.
"""
from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

from .clips import VIDEO_EXTENSIONS
from .pairs import PairsWriter, UserError, clean_caption, safe_name
from .videos import VideoItem, write_video_pairs

HF_REPO = "friedrichor/MSR-VTT"
KAGGLE_DATASET = "vishnutheepb/msrvtt"
_ID_KEYS = ("video_id", "videoid", "vid", "video", "id", "clip_id")
_CAPTION_KEYS = ("caption", "captions", "sentence", "sentences", "text", "description")


def _video_key(value) -> str | None:
    """"video7020", "video7020.mp4" and "path/video7020.mp4" all name the video "video7020"."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return Path(text).stem if text else None


def _captions_of(value) -> list[str]:
    if isinstance(value, str):
        return [clean_caption(value)] if clean_caption(value) else []
    if isinstance(value, list):
        return [c for v in value for c in _captions_of(v)]
    if isinstance(value, dict):  # e.g. {"caption": "..."} inside a list
        return [c for k in _CAPTION_KEYS if k in value for c in _captions_of(value[k])]
    return []


def _rows_to_captions(rows) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        key = next((_video_key(row[k]) for k in _ID_KEYS if _video_key(row.get(k))), None)
        caps = next((_captions_of(row[k]) for k in _CAPTION_KEYS if k in row and _captions_of(row[k])), [])
        if key and caps:
            found.setdefault(key, []).extend(caps)
    return found


def parse_annotations(path: str | Path) -> dict[str, list[str]]:
    """Captions per video id from one annotation file (.json, .jsonl or .csv); {} if it holds none."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    if path.suffix.lower() == ".csv":
        return _rows_to_captions(csv.DictReader(text.splitlines()))
    if path.suffix.lower() == ".jsonl":
        rows = []
        for line in text.splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return _rows_to_captions(rows)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {}
    if isinstance(data, dict) and isinstance(data.get("sentences"), list):  # official / CLIP4Clip layout
        return _rows_to_captions(data["sentences"])
    if isinstance(data, dict):
        for key in ("annotations", "data", "rows", "videos"):
            if isinstance(data.get(key), list):
                return _rows_to_captions(data[key])
        # {"video7020": ["a caption", ...], ...}
        return {_video_key(k): _captions_of(v) for k, v in data.items() if _captions_of(v)}
    if isinstance(data, list):
        return _rows_to_captions(data)
    return {}


def collect_annotations(folder: Path, annotations: str | Path | None = None) -> dict[str, list[str]]:
    """Merge the captions of every annotation file in ``folder`` (or just ``annotations``), de-duplicated."""
    files = [Path(annotations)] if annotations else sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in (".json", ".jsonl", ".csv") and p.is_file()
        and p.name not in ("manifest.jsonl", "prepare_report.json"))
    merged: dict[str, list[str]] = {}
    for f in files:
        for vid, caps in parse_annotations(f).items():
            seen = merged.setdefault(vid, [])
            seen.extend(c for c in caps if c not in seen)
    return merged


def _extract_zips(folder: Path, cache: Path) -> list[Path]:
    """Unpack video zips (as the Hub mirror ships them) into ``cache``, once; members stay inside it."""
    roots = []
    for archive in sorted(folder.rglob("*.zip")):
        target = cache / archive.stem
        roots.append(target)
        if (target / ".complete").exists():
            continue
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                dest = (target / member.filename).resolve()
                if not dest.is_relative_to(target.resolve()):  # zip-slip guard
                    raise UserError(f"{archive}: member {member.filename!r} escapes the folder")
                if member.filename.lower().endswith(VIDEO_EXTENSIONS):
                    zf.extract(member, target)
        (target / ".complete").touch()
    return roots


def download_hf(repo: str = HF_REPO, cache: Path | None = None) -> Path:
    """Download an MSR-VTT dataset repo from the Hugging Face Hub (annotations + video zips)."""
    from huggingface_hub import snapshot_download
    try:
        return Path(snapshot_download(repo_id=repo, repo_type="dataset", cache_dir=cache))
    except Exception as exc:
        raise UserError(f"download of the Hugging Face dataset {repo} failed ({exc.__class__.__name__}); "
                        f"download it by hand (huggingface-cli download {repo} --repo-type dataset) "
                        f"and pass --source FOLDER") from None


def download_kaggle(dataset: str = KAGGLE_DATASET) -> Path:
    """Download an MSR-VTT Kaggle dataset with kagglehub and the user's own Kaggle credentials."""
    try:
        import kagglehub
    except ImportError:
        raise UserError("--source kaggle needs kagglehub (pip install kagglehub) and your Kaggle API "
                        "credentials; or download the dataset by hand and pass --source FOLDER") from None
    try:
        return Path(kagglehub.dataset_download(dataset))
    except Exception as exc:
        raise UserError(f"download of the Kaggle dataset {dataset} failed ({exc.__class__.__name__}: {exc}); "
                        f"check ~/.kaggle/kaggle.json, or download it by hand and pass --source FOLDER") from None


def prepare_msrvtt(out: str | Path, *, source: str = "hf", limit: int | None = None, size: int = 64,
                   frames: int = 16, fps: float = 8, start: float = 0.0, duration: float | None = None,
                   all_captions: bool = False, annotations: str | Path | None = None, hf_repo: str = HF_REPO,
                   kaggle_dataset: str = KAGGLE_DATASET, workers: int | None = None, overwrite: bool = False,
                   progress: bool = True) -> dict:
    """MSR-VTT videos -> pairs: one caption per clip (the first), or one pair per caption (``all_captions``).

    ``source`` is "hf", "kaggle" (both download, on this explicit request) or a folder path.
    """
    out = Path(out)
    if source == "hf":
        folder = download_hf(hf_repo)
    elif source == "kaggle":
        folder = download_kaggle(kaggle_dataset)
    else:
        folder = Path(source)
        if not folder.is_dir():
            raise UserError(f"--source must be hf, kaggle or an existing folder; {folder} is not a folder")
    if out.resolve() == folder.resolve():
        raise UserError("--out must be a different folder from the MSR-VTT folder")
    captions = collect_annotations(folder, annotations)
    if not captions:
        raise UserError(f"no MSR-VTT captions found in {annotations or folder} (looked for videodatainfo.json, "
                        f"MSRVTT_data.json, CLIP4Clip CSVs, JSON/JSONL rows with caption/sentence)")
    from .digits import default_cache_dir
    roots = [folder] + _extract_zips(folder, default_cache_dir() / "msrvtt_videos")
    videos: dict[str, Path] = {}
    for root in roots:
        for p in sorted(root.rglob("*")):
            if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file():
                videos.setdefault(p.stem, p)
    ids = sorted((v for v in captions if v in videos), key=_natural)[:limit]
    if not ids:
        raise UserError(f"none of the {len(captions)} annotated videos were found as files under {folder}")
    settings = {"size": size, "frames": frames, "fps": fps, "start": start, "duration": duration,
                "all_captions": all_captions}
    writer = PairsWriter(out, "msrvtt", fps=fps, overwrite=overwrite, settings=settings)
    items = [VideoItem(safe_name(v), videos[v], captions[v] if all_captions else captions[v][:1]) for v in ids]
    return write_video_pairs(writer, items, size=size, frames=frames, fps=fps, start=start, duration=duration,
                             workers=workers, progress=progress, desc="msr-vtt")


def _natural(name: str) -> tuple:
    """video2 before video10."""
    import re
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))
