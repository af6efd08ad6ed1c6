"""Opt-in GIPHY keyword search with the user's own API key ($GIPHY_API_KEY); never used by default.

GIPHY's terms require "Powered By GIPHY" attribution and restrict building GIF databases, and beta
keys allow 100 calls an hour: one search call per run, attribution written beside the GIFs
(giphy.jsonl) and carried into the manifest by the GIF-folder source.
"""
from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from clipkit.atomic import atomic_write

from .pairs import UserError, clean_caption, safe_name

SEARCH_URL = "https://api.giphy.com/v1/gifs/search"
ATTRIBUTION = "Powered By GIPHY"


def _fetch(url: str, timeout: float = 30) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (https URL built here)
        return resp.read()


def search_giphy(query: str, *, limit: int = 25, api_key: str | None = None, rating: str = "g",
                 fetch: Callable[[str], bytes] = _fetch) -> list[dict]:
    """One search call: [{id, title, url, username, gif_url}] (``fetch`` is injectable for tests)."""
    api_key = api_key or os.environ.get("GIPHY_API_KEY")
    if not api_key:
        raise UserError("GIPHY search needs your own API key in the environment variable GIPHY_API_KEY "
                        "(developers.giphy.com)")
    params = urllib.parse.urlencode({"api_key": api_key, "q": query, "limit": max(1, min(limit, 50)),
                                     "rating": rating})
    try:
        payload = json.loads(fetch(f"{SEARCH_URL}?{params}"))
    except Exception as exc:
        raise UserError(f"GIPHY search failed ({exc.__class__.__name__}); check the network and GIPHY_API_KEY") from None
    results = []
    for item in payload.get("data", []):
        gif_url = ((item.get("images") or {}).get("fixed_height") or {}).get("url") or \
                  ((item.get("images") or {}).get("original") or {}).get("url")
        if item.get("id") and gif_url:
            results.append({"id": item["id"], "title": clean_caption(item.get("title") or ""),
                            "url": item.get("url", ""), "username": item.get("username", ""), "gif_url": gif_url})
    return results


def download_giphy(query: str, dest: str | Path, *, limit: int = 25, api_key: str | None = None,
                   fetch: Callable[[str], bytes] = _fetch) -> list[Path]:
    """Download the search results into ``dest`` as <id>.gif with attribution rows in giphy.jsonl.

    GIF titles ("Happy Cat GIF by ...") are not written as captions: the caption mode decides.
    Failed downloads are left out (the GIF-folder source then simply does not see them).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    rows, paths = [], []
    for hit in search_giphy(query, limit=limit, api_key=api_key, fetch=fetch):
        path = dest / f"giphy_{safe_name(hit['id'])}.gif"
        if not path.exists():
            try:
                data = fetch(hit["gif_url"])
            except Exception:
                continue
            atomic_write(path, lambda tmp, data=data: Path(tmp).write_bytes(data))
        paths.append(path)
        rows.append({"file": path.name, "attribution": ATTRIBUTION, "giphy_id": hit["id"], "giphy_url": hit["url"],
                     "giphy_user": hit["username"], "giphy_title": hit["title"], "giphy_query": query})
    existing = (dest / "giphy.jsonl").read_text(encoding="utf-8") if (dest / "giphy.jsonl").exists() else ""
    text = existing + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    atomic_write(dest / "giphy.jsonl", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return paths
