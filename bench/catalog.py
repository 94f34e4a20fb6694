"""Catalog search over many entries vs a raw scan of the same table (issue 3's performance figure).

The entries are bulk-inserted rows of `resources` with realistic Chinese names, summaries and item
titles, their search text built exactly as the catalog service builds it, and (on SQLite) the FTS
rows the service keeps. Search reads only entry rows, so all entries point at one published version
row: building 100,000 version rows would only slow the set-up.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, insert, text

SUBJECTS = [
    ("人口", 30),
    ("企业", 30),
    ("不动产", 12),
    ("社保", 12),
    ("医保", 10),
    ("学籍", 8),
    ("机动车", 8),
    ("驾驶人", 6),
    ("婚姻", 6),
    ("低保", 6),
    ("食品经营", 8),
    ("药品", 6),
    ("特种设备", 4),
    ("公积金", 8),
    ("国土空间规划", 3),
    ("公交线路", 4),
    ("环境监测", 6),
    ("水务", 5),
    ("气象", 4),
    ("殡葬服务", 1),
    ("养老机构", 5),
    ("建筑工地", 5),
    ("排污许可", 4),
    ("文物保护", 2),
    ("旅游景区", 3),
]
KINDS = [
    "基础信息",
    "登记信息",
    "许可信息",
    "监测数据",
    "统计数据",
    "行政处罚信息",
    "名录",
    "台账",
    "变更信息",
]
PLACES = ["", "", "", "长安区", "桥西区", "新华区", "裕华区", "藁城区", "鹿泉区", "栾城区", "正定县"]
ITEM_TITLES = [
    "公民身份号码",
    "姓名",
    "性别",
    "出生日期",
    "手机号码",
    "住址",
    "行政区划代码",
    "统一社会信用代码",
    "企业名称",
    "法定代表人",
    "注册资本",
    "成立日期",
    "许可证编号",
    "发证日期",
    "有效期至",
    "不动产单元号",
    "坐落",
    "面积",
    "采集时间",
    "监测值",
    "经度",
    "纬度",
    "联系电话",
    "状态",
    "备注",
]
ORGS = [
    "市公安局",
    "市民政局",
    "市人社局",
    "市卫健委",
    "市市场监管局",
    "市自然资源和规划局",
    "市住建局",
    "市医保局",
]
QUERIES = [
    ("2 字（扫描）", "人口"),
    ("5 字（三元组）", "不动产登记"),
    ("4 字，罕见", "殡葬服务"),
    ("两个词", "企业 许可"),
    ("无结果", "量子计算"),
]


def _weighted(rng: random.Random) -> str:
    subjects, weights = zip(*SUBJECTS, strict=True)
    return rng.choices(subjects, weights=weights)[0]


def populate(engine: Engine, entries: int, seed: int = 20261126) -> tuple[int, dict[str, int]]:
    """Organisations, one sub-class per organisation, `entries` published entries; returns the
    first organisation's id and the organisations' ids by name."""
    from govshare.catalog import search as catalog_search
    from govshare.catalog.models import CatalogClass, Resource, ResourceVersion
    from govshare.db import utcnow
    from govshare.identifiers import credit_code_check_char
    from govshare.orgs.models import Organisation

    rng = random.Random(seed)
    now = utcnow()
    org_ids: dict[str, int] = {}
    with engine.begin() as conn:
        for i, name in enumerate(ORGS):
            body = f"11130100{i:08d}{i % 10}"
            result = conn.execute(
                insert(Organisation).values(
                    code=f"bench{i}",
                    name=f"石家庄{name}",
                    short_name=name,
                    kind="department",
                    credit_code=body + credit_code_check_char(body),
                    credit_code_checked=True,
                    is_active=True,
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
            )
            org_ids[name] = int(result.inserted_primary_key[0])
        top = conn.execute(
            insert(CatalogClass).values(
                code="3",
                name="部门信息资源",
                kind="department",
                next_seq=1,
                is_active=True,
                created_at=now,
                version=1,
            )
        )
        classes = []
        for i, name in enumerate(ORGS):
            sub = conn.execute(
                insert(CatalogClass).values(
                    code=f"3{i + 1:02d}",
                    name=name,
                    kind="department",
                    parent_id=top.inserted_primary_key[0],
                    lead_org_id=org_ids[name],
                    next_seq=entries + 1,
                    is_active=True,
                    created_at=now,
                    version=1,
                )
            )
            classes.append((f"3{i + 1:02d}", int(sub.inserted_primary_key[0]), org_ids[name], name))
        first = conn.execute(
            insert(Resource).values(
                code="300/000000",
                org_id=classes[0][2],
                class_id=classes[0][1],
                status="draft",
                name="基准",
                summary="基准",
                format="database",
                provision_method="table",
                sharing_type="unconditional",
                open_type="closed",
                update_cycle="daily",
                search_text="",
                version_number=1,
                created_at=now,
                updated_at=now,
                lock_version=1,
            )
        )
        resource_id = int(first.inserted_primary_key[0])
        version = conn.execute(
            insert(ResourceVersion).values(
                resource_id=resource_id,
                org_id=classes[0][2],
                number=1,
                state="published",
                change_kind="create",
                class_id=classes[0][1],
                name="基准",
                summary="基准",
                format="database",
                provision_method="table",
                sharing_type="unconditional",
                open_type="closed",
                update_cycle="daily",
                items=[],
                related_ids=[],
                created_at=now,
                updated_at=now,
                field_comments={},
            )
        )
        version_id = int(version.inserted_primary_key[0])
        sqlite = engine.dialect.name == "sqlite"
        batch: list[dict[str, Any]] = []
        fts: list[dict[str, Any]] = []
        for n in range(1, entries + 1):
            code, class_id, org_id, org_name = classes[n % len(classes)]
            subject = _weighted(rng)
            name = f"{rng.choice(PLACES)}{subject}{rng.choice(KINDS)}"
            summary = (
                f"{org_name}掌握的{subject}相关数据，由业务系统{rng.choice(['每日', '每月', '实时'])}汇总，"
                f"涵盖{rng.choice(PLACES) or '全市'}范围。"
            )
            titles = " ".join(rng.sample(ITEM_TITLES, rng.randint(4, 9)))
            entry_code = f"{code}/{n:06d}"
            search_text = catalog_search.search_text(
                entry_code, name, summary, f"石家庄{org_name}", titles
            ).lower()
            batch.append(
                {
                    "id": resource_id + n,
                    "code": entry_code,
                    "org_id": org_id,
                    "class_id": class_id,
                    "status": "published",
                    "name": name,
                    "summary": summary,
                    "format": "database",
                    "provision_method": "table",
                    "sharing_type": rng.choice(["unconditional"] * 8 + ["conditional"] * 2),
                    "open_type": "closed",
                    "update_cycle": "monthly",
                    "search_text": search_text,
                    "published_version_id": version_id,
                    "version_number": 1,
                    "published_at": now,
                    "reviewed_at": now,
                    "created_at": now,
                    "updated_at": now,
                    "lock_version": 1,
                }
            )
            if sqlite:
                fts.append({"id": resource_id + n, "body": search_text})
            if len(batch) == 5000:
                conn.execute(insert(Resource), batch)
                if fts:
                    conn.execute(text("INSERT INTO resource_fts(rowid, body) VALUES (:id, :body)"), fts)
                batch, fts = [], []
        if batch:
            conn.execute(insert(Resource), batch)
        if fts:
            conn.execute(text("INSERT INTO resource_fts(rowid, body) VALUES (:id, :body)"), fts)
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    return classes[0][2], org_ids


def _timings(fn: Callable[[], object], runs: int) -> list[float]:
    for _ in range(2):  # warm caches and plans
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _p95(times: list[float]) -> float:
    return sorted(times)[max(0, int(len(times) * 0.95) - 1)]


def bench_catalog(engine: Engine, entries: int, runs: int) -> list[dict[str, Any]]:
    """For each query: search() latency (without and with facets) vs the raw scan's, median and p95."""
    from govshare.authz import Actor, Role
    from govshare.catalog.search import Filters, search
    from govshare.db import SessionFactory
    from govshare.pagination import PageParams

    org_id, _ = populate(engine, entries)
    actor = Actor(
        kind="user", name="bench", user_id=None, org_id=org_id, roles=frozenset({Role.business_user})
    )
    page = PageParams(page=1, page_size=20)
    results = []
    for label, q in QUERIES:
        terms = q.lower().split()

        def raw(terms: list[str] = terms) -> None:
            where = " AND ".join(f"search_text LIKE :t{i}" for i in range(len(terms)))
            params = {f"t{i}": f"%{t}%" for i, t in enumerate(terms)}
            with engine.connect() as conn:
                conn.execute(text(f"SELECT count(*) FROM resources WHERE {where}"), params).scalar_one()
                conn.execute(
                    text(f"SELECT id, name FROM resources WHERE {where} ORDER BY code LIMIT 20"),
                    params,
                ).all()

        def platform(facets: bool, q: str = q) -> Callable[[], None]:
            def run() -> None:
                with SessionFactory(bind=engine) as db:
                    search(db, actor=actor, filters=Filters(q=q), params=page, facets=facets)

            return run

        with SessionFactory(bind=engine) as db:
            total = search(db, actor=actor, filters=Filters(q=q), params=page, facets=False).total
        raw_t = _timings(raw, runs)
        plain = _timings(platform(False), runs)
        faceted = _timings(platform(True), max(3, runs // 4))
        results.append(
            {
                "query": q,
                "label": label,
                "matches": total,
                "raw_ms": statistics.median(raw_t) * 1000,
                "raw_p95_ms": _p95(raw_t) * 1000,
                "search_ms": statistics.median(plain) * 1000,
                "search_p95_ms": _p95(plain) * 1000,
                "facets_ms": statistics.median(faceted) * 1000,
                "ratio": statistics.median(plain) / statistics.median(raw_t),
                "facets_ratio": statistics.median(faceted) / statistics.median(raw_t),
            }
        )
    return results
