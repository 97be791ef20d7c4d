"""The training reference's bins (tools/reference.py) and the live counts in them
(serving/reference.py), in-process."""

from pydantic import BaseModel

from {{ cookiecutter.__package_name }}.serving.reference import Field, Watch
from {{ cookiecutter.__package_name }}.tools.reference import describe


class Payment(BaseModel):
    amount: float | None
    country: str
    features: list[float]


def test_numbers_fall_in_decile_bins_with_range_and_nulls() -> None:
    """Training numbers make 10 bins of a tenth each; live values outside the
    training range and nulls have bins of their own, at 0 in the reference."""
    entry = describe([float(v) for v in range(100)] + [None] * 10)
    assert [entry["shares"][f"q{i}"] for i in range(10)] == [0.090909] * 10
    assert entry["shares"]["_null"] == 0.090909 and entry["shares"]["_above"] == 0
    field = Field("amount", entry)
    assert [field.bin(v) for v in (-1, 0, 9.5, 99, 1e6, None)] == [
        "_below", "q0", "q0", "q9", "_above", "_null",
    ]  # fmt: skip


def test_categories_keep_the_top_values_and_tell_other_from_unseen() -> None:
    """The 20 most common values have bins; a rarer training value is _other and
    a value never seen is _unseen."""
    values = [f"c{i}" for i in range(21) for _ in range(21 - i)]
    field = Field("country", describe(values))
    assert len(field.top) == 20
    assert [field.bin(v) for v in ("c0", "c20", "new", None)] == [
        "c0", "_other", "_unseen", "_null",
    ]  # fmt: skip


def test_watch_counts_every_field_of_every_instance() -> None:
    """Each instance counts once per field, list positions one by one; unseen
    values are named."""
    fields = {
        "amount": describe([1.0, 2.0, 3.0]),
        "country": describe(["GB", "FR"]),
        "features.0": describe([0.0, 1.0]),
    }
    watch = Watch({"fields": fields})
    payments = [
        Payment(amount=None, country="GB", features=[0.5]),
        Payment(amount=30, country="XX", features=[]),
    ]
    watch.count(payments, [])
    counts, unseen = watch.take()
    assert counts == {
        ("amount", "_null"): 1,
        ("amount", "_above"): 1,
        ("country", "GB"): 1,
        ("country", "_unseen"): 1,
        ("features.0", "q0"): 1,
        ("features.0", "_null"): 1,
    }
    assert unseen == {("country", "XX"): 1}
    assert watch.take() == ({}, {})
