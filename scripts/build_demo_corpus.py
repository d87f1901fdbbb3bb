"""Build src/dailypapers/demo/corpus.jsonl.gz from the shared real data (a dev-time tool, not run by the app).

Takes the last DAYS weekday listing days of the arXiv listing corpus, keeps every paper listed on them (with
only the listing days inside the window), and adds the paper's newest real Hub upvote count where the
Hub captures have one. Weekend listing days are dropped: arXiv announces nothing on weekends, and the scraper's
Saturday and Sunday runs only repeat Friday's list. Only arXiv metadata (CC0) and upvote counts are written: no Hub usernames.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--listings", type=Path, default=SHARED / "arxiv-listings-cs/daily_arxiv_listings_unique.jsonl.gz"
    )
    ap.add_argument("--upvotes", type=Path, default=SHARED / "hf-daily-papers/upvote_snapshots.csv.gz")
    ap.add_argument("--days", type=int, default=20, help="consecutive weekday listing days to keep")
    ap.add_argument("--out", type=Path, default=ROOT / "src/dailypapers/demo/corpus.jsonl.gz")
    args = ap.parse_args()

    rows = [json.loads(line) for line in gzip.open(args.listings, "rt", encoding="utf-8")]
    all_days = sorted(
        d
        for d in {d for r in rows for d in r.get("listing_dates", [])}
        if date.fromisoformat(d).weekday() < 5
    )
    window = set(all_days[-args.days :])

    # Newest capture wins: the count a reader would see last.
    upvotes: dict[str, tuple[str, int]] = {}
    with gzip.open(args.upvotes, "rt", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            key, seen = rec["arxiv_id"], rec["captured_at"]
            if key not in upvotes or seen > upvotes[key][0]:
                upvotes[key] = (seen, int(rec["upvotes"]))

    kept = 0
    with_votes = 0
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as gz:
        for r in rows:
            days = sorted(set(r.get("listing_dates", [])) & window)
            if not days:
                continue
            out = {
                k: r[k] for k in ("id", "pdf", "abs", "title", "authors", "categories", "comment", "summary")
            }
            out["listing_dates"] = days
            if r["id"] in upvotes:
                out["upvotes"] = upvotes[r["id"]][1]
                with_votes += 1
            gz.write((json.dumps(out, ensure_ascii=False) + "\n").encode())
            kept += 1
    args.out.write_bytes(buf.getvalue())
    print(
        f"{kept} papers over {len(window)} listing days {min(window)} … {max(window)}, "
        f"{with_votes} with Hub upvotes, {len(buf.getvalue()) / 1e6:.1f} MB -> {args.out}"
    )


if __name__ == "__main__":
    main()
