"""The operator CLI, run as a real process against its own data directory."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli")
    result = _cli(path, "demo", "--rows", "500")
    assert result.returncode == 0, result.stderr
    assert "已创建 14 个单位" in result.stdout and "行演示数据" in result.stdout
    return path


def _cli(
    data_dir: Path, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GOVSHARE_")}
    environ.update(GOVSHARE_DATA_DIR=str(data_dir), COLUMNS="200", **env)
    return subprocess.run(
        [sys.executable, "-m", "govshare", *args],
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_fills_published_table_resources_through_ingest(data_dir: Path) -> None:
    with sqlite3.connect(data_dir / "govshare.db") as db:
        population = db.execute("SELECT count(*) FROM xres_1 WHERE _retired_at IS NULL").fetchone()[0]
        accepted, quarantined, sources = db.execute(
            "SELECT sum(accepted), sum(quarantined), group_concat(DISTINCT source) FROM batches"
        ).fetchone()
        pushed_by_systems = db.execute("SELECT count(*) FROM batches WHERE system_id IS NULL").fetchone()[0]
        sync_runs = db.execute("SELECT status, accepted FROM sync_runs").fetchall()
    assert population == 500  # --rows sizes 人口基础信息
    assert accepted > 500 and quarantined == 0 and pushed_by_systems == 0
    # One entry comes from a front-end SQLite database through a sync, the others are pushed.
    assert set(sources.split(",")) == {"demo", "sync"}
    assert len(sync_runs) == 1 and sync_runs[0][0] == "succeeded" and sync_runs[0][1] > 0
    assert list((data_dir / "frontdb").glob("demo-*.db"))


def test_demo_has_months_of_sharing_and_the_reports_published_on_them(data_dir: Path) -> None:
    with sqlite3.connect(data_dir / "govshare.db") as db:
        statuses = dict(db.execute("SELECT status, count(*) FROM share_requests GROUP BY status").fetchall())
        months = db.execute("SELECT count(DISTINCT substr(at, 1, 7)), sum(rows) FROM data_uses").fetchone()
        late = db.execute(
            "SELECT count(*) FROM share_requests WHERE decided_at IS NOT NULL AND date(decided_at) > due_date"
        ).fetchone()[0]
        open_doubts = db.execute("SELECT count(*) FROM data_feedback WHERE status = 'open'").fetchone()[0]
        published = db.execute("SELECT kind, period, pdf_sm3, length(pdf) FROM public_reports").fetchall()
    assert statuses["granted"] >= 5 and statuses["approved"] >= 3 and statuses["pending"] == 1
    assert months[0] >= 5 and months[1] > 0  # uses spread over the past months, with rows delivered
    assert late >= 1 and open_doubts == 1  # some providers answered late; one doubt waits
    kinds = sorted(kind for kind, *_ in published)
    assert kinds == ["month", "month", "month", "quarter"] and all(size > 10_000 for *_, size in published)


def test_demo_is_idempotent_and_leaves_tokens(data_dir: Path) -> None:
    again = _cli(data_dir, "demo")
    assert again.returncode == 0 and "已存在" in again.stdout
    tokens = json.loads((data_dir / "demo-system-tokens.json").read_text())
    assert tokens["police-hukou"].startswith("gss_")
    assert (data_dir / "demo-system-tokens.json").stat().st_mode & 0o077 == 0


def test_user_administration(data_dir: Path) -> None:
    created = _cli(
        data_dir,
        "user",
        "create",
        "zhaolei",
        "赵磊",
        "--org",
        "civil",
        "--role",
        "business_user",
        stdin="Civil#Affairs2026\n",
    )
    assert created.returncode == 0, created.stderr
    weak = _cli(data_dir, "user", "create", "weakling", "弱口令", "--org", "civil", stdin="123\n")
    assert weak.returncode == 1 and "密码不符合安全要求" in weak.stderr
    listed = _cli(data_dir, "user", "list", "--org", "civil")
    assert "zhaolei" in listed.stdout and "业务人员" in listed.stdout
    off = _cli(data_dir, "user", "offboard", "zhaolei", "--successor", "civil_user", "--reason", "调离")
    assert off.returncode == 0, off.stderr
    assert '"sessions_revoked"' in off.stdout


def test_audit_verify_detects_tampering(data_dir: Path) -> None:
    ok = _cli(data_dir, "audit", "verify", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True
    db = sqlite3.connect(data_dir / "govshare.db")
    db.execute("UPDATE audit_events SET actor_name = actor_name || 'x' WHERE seq = 3")
    db.commit()
    broken = _cli(data_dir, "audit", "verify")
    assert broken.returncode == 2 and "#3 hash" in broken.stdout
    db.execute(
        "UPDATE audit_events SET actor_name = substr(actor_name, 1, length(actor_name) - 1) WHERE seq = 3"
    )
    db.commit()
    db.close()
    assert _cli(data_dir, "audit", "verify").returncode == 0


def test_production_refuses_demo_data_and_dev_secrets(data_dir: Path) -> None:
    refused = _cli(data_dir, "serve", "--port", "1", GOVSHARE_ENV="production")
    assert refused.returncode == 1
    assert "GOVSHARE_SECRET_KEY is not set" in refused.stderr
    assert "demo accounts" in refused.stderr
    assert _cli(data_dir, "demo", GOVSHARE_ENV="production").returncode == 1


def test_system_token_rotation(data_dir: Path) -> None:
    rotated = _cli(data_dir, "system", "rotate-token", "civil-assist")
    assert rotated.returncode == 0 and "gss_" in rotated.stdout
    missing = _cli(data_dir, "system", "rotate-token", "no-such-system")
    assert missing.returncode == 1 and "找不到业务系统" in missing.stderr


def test_jobs_run(data_dir: Path) -> None:
    run = _cli(data_dir, "jobs", "run", "audit.checkpoint")
    assert run.returncode == 0 and "audit.checkpoint: ok" in run.stdout
    assert _cli(data_dir, "jobs", "run", "nope").returncode == 1


def test_ingest_loads_a_gbk_file_with_quarantine_and_provenance(data_dir: Path, tmp_path: Path) -> None:
    from govshare.identifiers import id_number_check_char

    body = "130102198503177"  # 15 of 17 digits; two more below
    good = body + "71" + id_number_check_char(body + "71")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    rows = [
        "id_number,name,gender,birth_date,region_code",
        f"{good},张伟,男,19850317,130102",
        f"{bad},王芳,女,,130102",
    ]
    file = tmp_path / "人口.csv"
    file.write_bytes(("\n".join(rows) + "\n").encode("gbk"))
    result = _cli(data_dir, "ingest", str(file), "--resource", "101/000001")
    assert result.returncode == 0, result.stderr
    assert "收到 2 行，入库 1 行，隔离 1 行" in result.stdout
    with sqlite3.connect(data_dir / "govshare.db") as db:
        name, source = db.execute(
            "SELECT x.name, b.source FROM xres_1 x JOIN batches b ON b.id = x._batch_id"
            " WHERE x.id_number = ?",
            (good,),
        ).fetchone()
    assert (name, source) == ("张伟", "cli")
    missing = _cli(data_dir, "ingest", str(file), "--resource", "999/000001")
    assert missing.returncode == 1 and "找不到代码为 999/000001" in missing.stderr
    wrong = _cli(data_dir, "ingest", str(file), "--resource", "101/000001", "--encoding", "utf-8")
    assert wrong.returncode == 1 and "编码" in wrong.stderr


def test_sync_runs_the_front_end_database_sync_from_its_watermark(data_dir: Path) -> None:
    with sqlite3.connect(data_dir / "govshare.db") as db:
        code = db.execute("SELECT code FROM resources WHERE name = '个体工商户登记信息'").fetchone()[0]
    frontdb = next((data_dir / "frontdb").glob("demo-*.db"))
    with sqlite3.connect(frontdb) as source:
        last = source.execute("SELECT * FROM qzk_gtgsh ORDER BY gxsj DESC LIMIT 1").fetchone()
        columns = [c[1] for c in source.execute("PRAGMA table_info(qzk_gtgsh)")]
        changed = dict(zip(columns, last, strict=True)) | {"gxsj": "2026-12-01 09:00:00"}
        name_column = next(c for c in columns if "name" in c)
        changed[name_column] = "新名称个体户"
        source.execute(
            f"UPDATE qzk_gtgsh SET {name_column} = ?, gxsj = ? WHERE gxsj = ?",
            (changed[name_column], changed["gxsj"], last[-1]),
        )
    result = _cli(data_dir, "sync", "--resource", code)
    assert result.returncode == 0, result.stderr
    assert "同步完成：读取 1 行（1 页），入库 1 行" in result.stdout
    again = _cli(data_dir, "sync", "--resource", code)
    assert "读取 0 行" in again.stdout
    missing = _cli(data_dir, "sync", "--resource", "999/999999")
    assert missing.returncode == 1 and "找不到代码" in missing.stderr


def test_holidays_load_and_show(data_dir: Path, tmp_path: Path) -> None:
    schedule = Path(__file__).parent / "calendar" / "schedule_2027.csv"  # test data, not the real notice
    shown = _cli(data_dir, "holidays", "show", "2027")
    assert shown.returncode == 0, shown.stderr
    assert "尚未加载" in shown.stdout and "国庆节" in shown.stdout  # the fixed-date holidays

    bad = tmp_path / "bad.csv"
    bad.write_text("日期,类型,名称\n2027-03-03,上班,春节\n2027-13-01,放假,元旦\n", encoding="utf-8")
    refused = _cli(
        data_dir, "holidays", "load", str(bad), "--year", "2027", "--source", "国办发明电〔2026〕99号"
    )
    assert refused.returncode == 1 and "第 3 行的日期" in refused.stderr

    loaded = _cli(
        data_dir, "holidays", "load", str(schedule), "--year", "2027", "--source", "国办发明电〔2026〕99号"
    )
    assert loaded.returncode == 0, loaded.stderr
    assert "放假 29 天，调休上班 5 天" in loaded.stdout
    shown = _cli(data_dir, "holidays", "show", "2027")
    assert "国办发明电〔2026〕99号" in shown.stdout and "2027-02-20" in shown.stdout
    with sqlite3.connect(data_dir / "govshare.db") as db:
        assert db.execute("SELECT count(*) FROM holiday_days WHERE year = 2027").fetchone() == (34,)
        assert (
            db.execute("SELECT actor_name FROM audit_events WHERE event_type = 'calendar.schedule_loaded'")
            .fetchone()[0]
            .startswith("cli:")
        )


def test_protection_scan_evaluates_each_event_once(data_dir: Path) -> None:
    first = _cli(data_dir, "protection", "scan")
    assert first.returncode == 0, first.stderr
    assert "评估审计事件" in first.stdout and "水位 #" in first.stdout
    again = _cli(data_dir, "protection", "scan")
    assert again.returncode == 0 and "评估审计事件 0 条，新告警 0 条" in again.stdout, again.stdout
