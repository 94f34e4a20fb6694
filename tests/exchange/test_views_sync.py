"""The front-end database sync page: register through the form (errors come back on it), run now,
see the runs; who sees and who may change it."""

from __future__ import annotations

from sqlalchemy import select

from govshare.catalog.models import Resource
from govshare.exchange.models import SyncSource
from govshare.systems.models import BusinessSystem
from tests.exchange.frontdb import MAPPING, person
from tests.helpers import login
from tests.ui import browser, hidden, text, texts


def mapping_lines(mapping: dict[str, str]) -> str:
    return "\n".join(f"{item} = {column}" for item, column in mapping.items()) + "\naddress = \n"


def form(source, system: BusinessSystem, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "url": source.url,
        "system_id": str(system.id),
        "kind": "table",
        "table": source.table,
        "column_map": mapping_lines(MAPPING),
        "watermark_column": "gxsj",
        "schedule": "cycle",
        "enabled": "on",
        **extra,
    }


def test_register_run_and_see_runs_through_the_page(
    app, client, city, db, population: Resource, hukou: BusinessSystem, sqlite_source
) -> None:
    sqlite_source.insert([person(n, n) for n in range(1, 6)] + [person(6, 6, bad=True)])
    admin = browser(app, "police_admin")
    path = f"/catalog/{population.id}/data/sync"
    empty = admin.get(path)
    assert empty.status_code == 200, empty.text
    assert 'data-testid="no-source"' in empty.text and 'data-testid="sync-form"' in empty.text
    assert "id_number = " in empty.text  # the mapping starts with every item, to fill in

    refused = admin.post(path, form(sqlite_source, hukou, table="no_such_table"))
    assert refused.status_code == 422
    assert "无法读取前置库" in text(refused.text, "form-error")
    assert 'value="no_such_table"' in refused.text  # the form keeps what was typed
    assert db.scalar(select(SyncSource).where(SyncSource.resource_id == population.id)) is None

    saved = admin.post(path, form(sqlite_source, hukou))
    assert saved.status_code == 303, saved.text
    page = admin.get(saved.headers["location"])
    assert "连接检查通过" in text(page.text, "flash")
    assert text(page.text, "sync-url").startswith("sqlite:///")
    source = db.scalar(select(SyncSource).where(SyncSource.resource_id == population.id))
    assert source is not None and source.column_map == MAPPING  # the empty address line is left out

    started = admin.post(f"{path}/run", {})
    assert started.status_code == 303
    after = admin.get(started.headers["location"])
    assert texts(after.text, "sync-run-status") == ["成功"]
    assert texts(after.text, "sync-run-rows") == ["6"]
    assert "2026-11-01 08:06:00" in text(after.text, "sync-watermark")

    # Saving again with the masked address shown on the form keeps the stored address.
    again = admin.post(
        path,
        {**form(sqlite_source, hukou), "url": source.url_display, "version": hidden(after.text, "version")},
    )
    assert again.status_code == 303, again.text

    removed = admin.post(f"{path}/remove", {})
    assert removed.status_code == 303
    assert 'data-testid="sync-disabled"' in admin.get(path).text
    data_page = admin.get(f"/catalog/{population.id}/data")
    assert f'href="/catalog/{population.id}/data/sync"' in data_page.text


def test_the_bureau_sees_the_page_without_the_form_and_others_are_refused(
    app, client, city, db, population: Resource
) -> None:
    path = f"/catalog/{population.id}/data/sync"
    bureau = browser(app, "bureau_admin").get(path)
    assert bureau.status_code == 200 and 'data-testid="sync-form"' not in bureau.text
    assert 'data-testid="sync-now"' not in bureau.text
    market = browser(app, "market_admin")
    assert market.get(path).status_code == 403
    assert market.post(f"{path}/run", {}).status_code == 403


def test_the_data_page_shows_lineage_from_systems_through_batches(
    app, client, city, db, population: Resource, hukou: BusinessSystem, sqlite_source
) -> None:
    sqlite_source.insert([person(n, n) for n in range(1, 4)])
    admin = browser(app, "police_admin")
    assert admin.post(f"/catalog/{population.id}/data/sync", form(sqlite_source, hukou)).status_code == 303
    assert admin.post(f"/catalog/{population.id}/data/sync/run", {}).status_code == 303
    # A person pushes two more rows by hand (no system): a second line of lineage.
    header = "id_number,name"
    rows = "\n".join(f"{person(n, n)['sfzh']},手工{n}" for n in (10, 11))
    pushed = client.post(
        f"/api/v1/resources/{population.id}/batches",
        content=f"{header}\n{rows}\n".encode(),
        headers={**login(client, "police_admin"), "Content-Type": "text/csv"},
    )
    assert pushed.status_code == 201, pushed.text
    page = admin.get(f"/catalog/{population.id}/data").text
    assert texts(page, "lineage-source") == ["人员或命令行", f"业务系统：{hukou.name}"]
    assert texts(page, "lineage-live") == ["2", "3"]
    assert texts(page, "lineage-batches") == ["1", "1"]
