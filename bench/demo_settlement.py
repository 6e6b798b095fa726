"""One small demo round end to end through the API, on a temporary SQLite database.

Bids, close, solve, publish, settle; then prints the factories' statements and the
platform's result (expected at publication against realised) as tables.

    .venv/bin/python -m bench.demo_settlement
"""

import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

import migrations
from api.app import create_app
from bidding import keys
from bidding.models import Role
from bidding.principal import SYSTEM
from bidding.settings import Settings

ITEMS = {
    "Plush bear": ("39.90", "4.00", "8.00", [(900, "0.25"), (1200, "0.5"), (1600, "0.25")]),
    "Robot kit": ("129.00", "9.50", "30.00", [(300, "0.4"), (500, "0.6")]),
}
FACTORIES = ("Dongguan Toys", "Yiwu Crafts", "Shantou Plastics")
# (factory, item, unit cost, capacity, extra terms)
BIDS: list[tuple[int, str, str, int, dict[str, str]]] = [
    (0, "Plush bear", "18.50", 800, {}),
    (1, "Plush bear", "17.20", 600, {"setup_cost": "300.00"}),
    (2, "Plush bear", "19.90", 500, {}),
    (0, "Robot kit", "61.00", 200, {}),
    (2, "Robot kit", "58.40", 350, {"ask_price": "68.00"}),
]
SOLD = {"Plush bear": 1150, "Robot kit": 420}


def _table(title: str, headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers, *[[("" if c is None else str(c)) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        lines.append(
            "  ".join(
                c.ljust(w) if i < 1 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def run(directory: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The demo round on a database in `directory`: its statements, result and names."""
    url = f"sqlite:///{directory / 'demo.db'}"
    migrations.upgrade(url)
    app = create_app(Settings(database_url=url, job_queue="embedded"))
    with Session(app.state.engine) as session:
        secret = {
            role: keys.create_key(session=session, actor=SYSTEM, role=role, name="demo").secret
            for role in (Role.admin, Role.manager, Role.finance)
        }

    def auth(secret_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret_key}"}

    admin, manager, finance = (auth(secret[r]) for r in (Role.admin, Role.manager, Role.finance))
    with TestClient(app) as client:
        names: dict[str, str] = {}
        factory_keys = []
        for name in FACTORIES:
            factory = _ok(
                client.post(
                    "/v1/factories",
                    json={"name": name, "monthly_capacity": 5000},
                    headers=admin,
                ),
                201,
            )
            names[factory["id"]] = name
            key = _ok(
                client.post(
                    "/v1/api-keys",
                    json={"role": "factory", "factory": factory["id"], "name": name},
                    headers=admin,
                ),
                201,
            )
            factory_keys.append(auth(key["key"]))
        item_ids = {}
        for name, (retail, handling, salvage, demand) in ITEMS.items():
            item = _ok(
                client.post(
                    "/v1/items",
                    json={
                        "name": name,
                        "retail_price": retail,
                        "handling_cost": handling,
                        "salvage_value": salvage,
                        "demand": [{"units": u, "probability": p} for u, p in demand],
                    },
                    headers=manager,
                ),
                201,
            )
            item_ids[name] = item["id"]
            names[item["id"]] = name
        round_id = _ok(
            client.post(
                "/v1/rounds",
                json={"name": "Toys, December", "category": "toys", "period": "2026-12"},
                headers=manager,
            ),
            201,
        )["id"]
        for item_id in item_ids.values():
            _ok(client.put(f"/v1/rounds/{round_id}/items/{item_id}", json={}, headers=manager))
        _ok(client.post(f"/v1/rounds/{round_id}/open", headers=manager))
        for factory, item, cost, capacity, extra in BIDS:
            _ok(
                client.post(
                    f"/v1/rounds/{round_id}/bids",
                    json={"item": item_ids[item], "unit_cost": cost, "capacity": capacity} | extra,
                    headers=factory_keys[factory],
                ),
                201,
            )
        _ok(client.post(f"/v1/rounds/{round_id}/close", headers=manager))
        allocation_id = _ok(
            client.post(f"/v1/rounds/{round_id}/allocations", json={}, headers=manager), 202
        )["id"]
        while _ok(client.get(f"/v1/allocations/{allocation_id}", headers=finance))["status"] in (
            "queued",
            "running",
        ):
            time.sleep(0.05)
        _ok(client.post(f"/v1/allocations/{allocation_id}/publish", headers=manager))
        sold = {item_ids[name]: units for name, units in SOLD.items()}
        _ok(
            client.post(f"/v1/rounds/{round_id}/settlement", json={"sold": sold}, headers=manager),
            201,
        )
        statements = _ok(client.get(f"/v1/rounds/{round_id}/statements", headers=finance))
        result = _ok(client.get(f"/v1/rounds/{round_id}/result", headers=finance))
        margins = _ok(client.get("/v1/audit/margins", headers=finance))
        assert margins["findings"] == [], margins
    return statements, result, names


def main() -> None:
    """Run the demo and print its tables."""
    with tempfile.TemporaryDirectory() as directory:
        statements, result, names = run(Path(directory))
    currency = statements["currency"]
    headers = ["factory", "units", "amount", "cost", "setup_cost", "margin"]
    headers += ["takeover_units", "takeover_value"]
    print(
        _table(
            f"Statements, round {statements['round']} ({currency}, settlement version "
            f"{statements['settlement_version']})",
            headers,
            sorted([names[s["factory"]], *[s[h] for h in headers[1:]]] for s in statements["data"]),
        )
    )
    print()
    figures = list(result["expected"])
    print(
        _table(
            f"Platform result ({currency})",
            ["figure", "expected", "realised"],
            [[f, result["expected"][f], result["realised"][f]] for f in figures],
        )
    )
    print()
    per_item = [
        [names[i["item"]], i["realised"]["units_ordered"], i["realised"]["units_sold"]]
        + [i["realised"][k] for k in ("units_taken_over", "takeover_spend", "salvage", "net")]
        for i in result["items"]
    ]
    print(
        _table(
            "Per item, realised",
            ["item", "ordered", "sold", "taken_over", "takeover_spend", "salvage", "net"],
            sorted(per_item),
        )
    )


if __name__ == "__main__":
    main()
