from datetime import UTC, datetime, timedelta

from plinth.billing.storage import GB_MONTH_BYTE_SECONDS, StorageMeter
from plinth.store.database import open_database

T0 = datetime(2026, 1, 1, tzinfo=UTC)  # in the past: open spans count up to now


def meter(tmp_path):
    return StorageMeter(open_database(f"sqlite:///{tmp_path}/p.db"))


def test_spans_integrate_clipped_to_the_period(tmp_path):
    m = meter(tmp_path)
    m.set_size("vs_a", 1000, tenant_id="t1", at=T0 - timedelta(hours=1))
    m.set_size("vs_a", 3000, tenant_id="t1", at=T0 + timedelta(seconds=10))
    m.set_size("vs_a", 0, tenant_id="t1", at=T0 + timedelta(seconds=30))
    (use,) = m.byte_seconds(T0, T0 + timedelta(days=1))
    # 10 s at 1000 bytes inside the period (the hour before is outside), 20 s at 3000.
    assert use.byte_seconds == 10 * 1000 + 20 * 3000
    assert use.tenant_id == "t1"


def test_same_size_is_not_a_new_span_and_zero_ends_it(tmp_path):
    m = meter(tmp_path)
    m.set_size("vs_a", 500, at=T0)
    m.set_size("vs_a", 500, at=T0 + timedelta(seconds=5))
    m.set_size("vs_a", 0, at=T0 + timedelta(seconds=8))
    m.set_size("vs_a", 0, at=T0 + timedelta(seconds=9))
    assert [u.byte_seconds for u in m.byte_seconds(T0, T0 + timedelta(days=1))] == [8 * 500]


def test_tenant_filter_and_open_span_counts_to_period_end(tmp_path):
    m = meter(tmp_path)
    m.set_size("vs_a", 10**9, tenant_id="t1", at=T0)
    m.set_size("vs_b", 7, tenant_id="t2", at=T0)
    (use,) = m.byte_seconds(T0, T0 + timedelta(days=30), tenant_id="t1")
    assert use.resource == "vs_a"
    assert use.byte_seconds == GB_MONTH_BYTE_SECONDS
    assert use.gb_months == 1.0
