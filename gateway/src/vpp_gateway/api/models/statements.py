"""A site's statement (invoice data): per interval what the meters measured and what it did to tokens."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .common import InstantFrom, InstantTo, Query

STATEMENT_FIELDS = ("generation_wh", "charge_wh", "discharge_wh", "load_wh", "import_wh", "export_wh",
                    "minted_tgen", "burned_tgen", "minted_tstorage", "burned_tstorage", "grid_import_wh")


class StatementQuery(Query):
    from_: InstantFrom | None = Field(None, alias="from")
    to: InstantTo | None = None
    format: Literal["json", "csv", "xml"] = "json"


class StatementTotals(BaseModel):
    generation_wh: int
    charge_wh: int
    discharge_wh: int
    load_wh: int
    import_wh: int
    export_wh: int
    minted_tgen: int
    burned_tgen: int
    minted_tstorage: int
    burned_tstorage: int
    grid_import_wh: int


class StatementInterval(StatementTotals):
    start: int


class StatementResponse(BaseModel):
    model_config = {"populate_by_name": True}
    site_id: str
    owner: str
    from_: int = Field(alias="from")
    to: int
    intervals: list[StatementInterval]
    totals: StatementTotals
