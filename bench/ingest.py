"""Batch ingest with every quality rule and provenance vs a raw bulk insert of the same rows.

A CSV of population rows (valid ID numbers, names, gender, birth date, mobile, address, region code;
1% of rows with a broken ID number, which the platform quarantines) is written once; the platform
loads it with `exchange.ingest.ingest` (parse, check every rule, hash keys and rows, upsert with
provenance, quarantine, manifest, audit) and the baseline parses the same file with `csv` and inserts
the rows with `executemany` into a plain table of the same columns, in one transaction, on the same
engine. Peak memory (max RSS growth) is reported for both, and the peak of the helper process that
checks a large body alongside (`exchange.reading`).
"""

from __future__ import annotations

import csv
import os
import random
import resource as rusage
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Date, Engine, MetaData, String, Table, insert, text

ITEMS = [
    {
        "name": "id_number",
        "title": "公民身份号码",
        "data_type": "C",
        "length": 18,
        "is_key": True,
        "sensitivity": "L3",
        "element": "DE0001",
        "authoritative": True,
        "description": None,
    },
    {
        "name": "name",
        "title": "姓名",
        "data_type": "C",
        "length": 50,
        "is_key": False,
        "sensitivity": "L2",
        "element": None,
        "authoritative": False,
        "description": None,
    },
    {
        "name": "gender",
        "title": "性别",
        "data_type": "C",
        "length": 1,
        "is_key": False,
        "sensitivity": "L1",
        "element": None,
        "authoritative": False,
        "description": None,
    },
    {
        "name": "birth_date",
        "title": "出生日期",
        "data_type": "D",
        "length": None,
        "is_key": False,
        "sensitivity": "L2",
        "element": None,
        "authoritative": False,
        "description": None,
    },
    {
        "name": "mobile",
        "title": "手机号码",
        "data_type": "C",
        "length": 11,
        "is_key": False,
        "sensitivity": "L3",
        "element": "DE0006",
        "authoritative": False,
        "description": None,
    },
    {
        "name": "address",
        "title": "住址",
        "data_type": "C",
        "length": 200,
        "is_key": False,
        "sensitivity": "L3",
        "element": None,
        "authoritative": False,
        "description": None,
    },
    {
        "name": "region_code",
        "title": "行政区划代码",
        "data_type": "C",
        "length": 6,
        "is_key": False,
        "sensitivity": "L1",
        "element": None,
        "authoritative": False,
        "description": None,
    },
]
REGIONS = ["130102", "130104", "130105", "130108", "130109", "130110", "130111", "130121", "130123"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
ROADS = ["中山东路", "建设北大街", "裕华西路", "槐安东路", "和平西路", "友谊南大街"]


def write_csv(path: Path, rows: int, seed: int = 20261126) -> None:
    from govshare.identifiers import id_number_check_char

    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow([i["name"] for i in ITEMS])
        for n in range(rows):
            region = REGIONS[n % len(REGIONS)]
            year = 1940 + n % 80
            birth = f"{year}{1 + n % 12:02d}{1 + n % 28:02d}"
            seq = n // 4000  # unique with region/birth
            body = f"{region}{birth}{seq % 1000:03d}"
            number = body + id_number_check_char(body)
            if n % 100 == 99:
                number = number[:17] + ("0" if number[17] != "0" else "1")  # a broken check digit
            gender = "男" if int(body[16]) % 2 else "女"
            out.writerow(
                [
                    number,
                    rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                    gender,
                    f"{birth[:4]}-{birth[4:6]}-{birth[6:]}",
                    f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
                    f"河北省石家庄市{rng.choice(ROADS)}{rng.randrange(1, 300)}号",
                    region,
                ]
            )


def _max_rss_mb() -> float:
    return rusage.getrusage(rusage.RUSAGE_SELF).ru_maxrss / 1024


def department(conn: Any, code: str, name: str, short_name: str, credit_body: str) -> int:
    """A department organisation for a benchmark (17 characters of credit code given, check added)."""
    from govshare.db import utcnow
    from govshare.identifiers import credit_code_check_char
    from govshare.orgs.models import Organisation

    now = utcnow()
    return int(
        conn.execute(
            insert(Organisation).values(
                code=code,
                name=name,
                short_name=short_name,
                kind="department",
                credit_code=credit_body + credit_code_check_char(credit_body),
                credit_code_checked=True,
                is_active=True,
                created_at=now,
                updated_at=now,
                version=1,
            )
        ).inserted_primary_key[0]
    )


def _setup(engine: Engine) -> int:
    """An organisation, a sub-class and one published population resource; returns its id."""
    from govshare.catalog.models import CatalogClass, Resource, ResourceVersion
    from govshare.db import utcnow

    now = utcnow()
    with engine.begin() as conn:
        org = department(conn, "benchpolice", "基准公安局", "公安", "11130100000102430")
        top = conn.execute(
            insert(CatalogClass).values(
                code="9", name="基准", kind="base", next_seq=1, is_active=True, created_at=now, version=1
            )
        ).inserted_primary_key[0]
        sub = conn.execute(
            insert(CatalogClass).values(
                code="901",
                name="人口",
                kind="base",
                parent_id=top,
                next_seq=2,
                is_active=True,
                created_at=now,
                version=1,
            )
        ).inserted_primary_key[0]
        common = {
            "format": "database",
            "provision_method": "table",
            "sharing_type": "unconditional",
            "open_type": "closed",
            "update_cycle": "daily",
            "name": "人口基础信息",
            "summary": "基准",
        }
        resource_id = conn.execute(
            insert(Resource).values(
                code="901/000001",
                org_id=org,
                class_id=sub,
                status="published",
                search_text="",
                version_number=1,
                created_at=now,
                updated_at=now,
                lock_version=1,
                **common,
            )
        ).inserted_primary_key[0]
        version_id = conn.execute(
            insert(ResourceVersion).values(
                resource_id=resource_id,
                org_id=org,
                number=1,
                state="published",
                change_kind="create",
                class_id=sub,
                items=ITEMS,
                related_ids=[],
                created_at=now,
                updated_at=now,
                field_comments={},
                **common,
            )
        ).inserted_primary_key[0]
        conn.execute(
            text("UPDATE resources SET published_version_id = :v WHERE id = :r"),
            {"v": version_id, "r": resource_id},
        )
    return int(resource_id)


def _raw_load(engine: Engine, path: Path, name: str, *, keyed: bool) -> tuple[float, float]:
    """Seconds and peak-memory growth of `csv.DictReader` + executemany in chunks of 1,000 into a
    table with the items' columns (the date parsed), keyed by 公民身份号码 when `keyed`."""
    table = Table(
        name,
        MetaData(),
        *[
            Column(
                i["name"],
                Date() if i["data_type"] == "D" else String(i["length"] or 200),
                primary_key=keyed and bool(i.get("is_key")),
            )
            for i in ITEMS
        ],
    )
    table.create(engine)
    rss0 = _max_rss_mb()
    start = time.perf_counter()
    with engine.begin() as conn, path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        chunk: list[dict[str, Any]] = []
        for row in reader:
            # The baseline parses what it must to insert: the date column.
            row["birth_date"] = date.fromisoformat(row["birth_date"]) if row["birth_date"] else None  # type: ignore[assignment]
            chunk.append(row)
            if len(chunk) == 1000:
                conn.execute(insert(table), chunk)
                chunk = []
        if chunk:
            conn.execute(insert(table), chunk)
    return time.perf_counter() - start, _max_rss_mb() - rss0


def _watch_helpers(stop: threading.Event, peaks: list[int]) -> None:
    """Until `stop`, the peak resident memory (kB, `VmHWM`) of each helper process that checks a large
    body for this one (`exchange.reading`). `getrusage(RUSAGE_CHILDREN)` would not do: a child's
    maximum counts this process's memory, which it shared until it started the helper interpreter."""
    me = str(os.getpid())
    while not stop.wait(0.1):
        for proc in Path("/proc").iterdir():
            try:
                status = (proc / "status").read_text() if proc.name.isdigit() else ""
                if f"PPid:\t{me}\n" not in status:
                    continue
                if b"govshare.exchange.reading" in (proc / "cmdline").read_bytes():
                    hwm = [line for line in status.splitlines() if line.startswith("VmHWM:")]
                    peaks.extend(int(line.split()[1]) for line in hwm)
            except OSError:  # ended meanwhile
                continue


def bench_ingest(engine: Engine, rows: int) -> dict[str, Any]:
    from govshare.authz import Actor
    from govshare.db import unit_of_work
    from govshare.exchange.body import BatchRequest, from_file
    from govshare.exchange.ingest import ingest
    from govshare.model_registry import load_models

    load_models()
    resource_id = _setup(engine)
    workdir = Path(tempfile.mkdtemp(prefix="govshare-bench-ingest-"))
    path = workdir / "population.csv"
    write_csv(path, rows)

    # Raw: parse and insert the same rows into a plain table with the same columns; and again into a
    # table keyed by the business key, as any loader that can update rows later needs.
    raw_s, raw_rss = _raw_load(engine, path, "bench_raw_population", keyed=False)
    keyed_s, _ = _raw_load(engine, path, "bench_raw_population_keyed", keyed=True)

    rss1 = _max_rss_mb()
    helper_peaks: list[int] = []
    stop = threading.Event()
    sampler = threading.Thread(target=_watch_helpers, args=(stop, helper_peaks), daemon=True)
    sampler.start()
    start = time.perf_counter()
    with path.open("rb") as f, unit_of_work(engine) as db:
        batch, _ = ingest(
            db,
            actor=Actor.operator("bench"),
            req=BatchRequest(
                resource_id=resource_id, body=from_file(f), content_type="text/csv", source="cli"
            ),
        )
        accepted, quarantined = batch.accepted, batch.quarantined
    platform_s = time.perf_counter() - start
    platform_rss = _max_rss_mb() - rss1
    stop.set()
    sampler.join()
    helper_rss = max(helper_peaks, default=0) / 1024
    path.unlink()
    return {
        "rows": rows,
        "accepted": accepted,
        "quarantined": quarantined,
        "raw_s": raw_s,
        "ingest_s": platform_s,
        "raw_rows_per_s": rows / raw_s,
        "ingest_rows_per_s": rows / platform_s,
        "ratio": platform_s / raw_s,
        "keyed_raw_rows_per_s": rows / keyed_s,
        "keyed_ratio": platform_s / keyed_s,
        "raw_rss_growth_mb": raw_rss,
        "ingest_rss_growth_mb": platform_rss,
        "helper_peak_rss_mb": helper_rss,
    }
