"""The demo's worked analysis runs through the service and keeps a derived dataset."""

from __future__ import annotations

from sqlalchemy import select

from govshare.analysis.models import AnalysisQuery, DerivedDataset
from govshare.demo import analysis as demo_analysis
from tests.analysis.helpers import granted, loaded


def test_the_demo_analysis_keeps_a_derived_dataset(client, city, db) -> None:
    assert demo_analysis.load(db) == 0  # no grant yet: nothing to show
    population = loaded(client, db)
    granted(client, population, ["gender", "region_code"], demo_analysis.USERNAME, demo_analysis.PURPOSE)
    assert demo_analysis.load(db) == 1
    query = db.scalar(select(AnalysisQuery).where(AnalysisQuery.status == "accepted"))
    assert query is not None and query.releasable and query.row_count == 6
    derived = db.scalar(select(DerivedDataset))
    assert derived is not None and derived.name == "参保核验人口区划性别分布" and derived.level == "L1"
