"""``chaosdrill gameday plan``, and game days in ``validate`` and ``schema``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.cli.main import main

ROOT = Path(__file__).resolve().parents[2]

DAY = """\
version: 1
kind: gameday
title: Drills
timezone: Europe/Berlin
windows:
  - {days: [mon, tue, wed, thu, fri], from: "10:00", to: "16:00"}
blackout:
  - {holidays: DE}
defaults: {min_gap: 30m, max_per_day: 2}
drills:
  - {name: web, experiment: web.yaml, when: {cron: "0 * * * *"}}
  - {name: chaos, experiment: web.yaml, when: {random: {mean_between: 1d}, seed: 3}}
"""


@pytest.fixture
def day_file(tmp_path: Path) -> Path:
    (tmp_path / "web.yaml").write_text("version: 1\n")
    path = tmp_path / "day.yaml"
    path.write_text(DAY)
    return path


def test_plan_prints_a_table_of_fires_in_both_zones(day_file, capsys):
    code = main(["gameday", "plan", str(day_file), "--from", "2026-10-02T09:30", "--next", "3"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Drills (Europe/Berlin)"
    assert lines[1] == "from Fri 2026-10-02 09:30:00 CEST, the next 3 fires of each drill"
    assert lines[2].split() == ["DRILL", "LOCAL", "UTC", "STATUS"]
    web = [line.split(maxsplit=7) for line in lines if line.startswith("web ")]
    assert [row[1:7] for row in web[:2]] == [
        ["Fri", "2026-10-02", "10:00:00", "CEST", "2026-10-02", "08:00:00Z"],
        ["Fri", "2026-10-02", "11:00:00", "CEST", "2026-10-02", "09:00:00Z"],
    ]
    # consecutive fires skipped for one reason are one row
    assert [row[7] for row in web] == [
        "fired",
        "fired",
        "skipped  max_per_day 2 reached on 2026-10-02 (x4, the last at Fri 2026-10-02 "
        "15:00:00 CEST)",
        "skipped  outside every window (mon,tue,wed,thu,fri 10:00-16:00) (x8, the last at "
        "Fri 2026-10-02 23:00:00 CEST)",
        "skipped  blackout: German Unity Day (public holiday DE) (x24, the last at "
        "Sat 2026-10-03 23:00:00 CEST)",
        "skipped  outside every window (mon,tue,wed,thu,fri 10:00-16:00) (x34, the last at "
        "Mon 2026-10-05 09:00:00 CEST)",
        "fired",
    ]
    chaos = [line for line in lines if line.startswith("chaos ")]
    assert len(chaos) == 3 and all(" fired    seed " in line for line in chaos)
    assert lines[-1] == "note: every drill is assumed to take no time (it ends as it starts)"


def test_plan_json_has_every_fire_with_its_fate(day_file, capsys):
    code = main(["gameday", "plan", str(day_file), "--from", "2026-10-02T08:00Z", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["timezone"] == "Europe/Berlin"
    assert data["from"] == "2026-10-02T10:00:00+02:00"
    assert data["next"] == 5
    assert "no time" in data["assumption"]
    fires = data["fires"]
    assert set(fires[0]) == {
        "drill",
        "local",
        "utc",
        "scheduled_local",
        "scheduled_utc",
        "status",
        "reason",
        "seed",
    }
    web = [f for f in fires if f["drill"] == "web"]
    assert web[0]["local"] == "2026-10-02T11:00:00+02:00"
    assert web[0]["utc"] == "2026-10-02T09:00:00Z"
    assert web[0]["status"] == "fired" and web[0]["reason"] is None
    assert sum(f["status"] == "fired" for f in web) == 5
    assert {f["reason"] for f in web if f["status"] == "skipped"} >= {
        "max_per_day 2 reached on 2026-10-02",
    }
    chaos = [f for f in fires if f["drill"] == "chaos"]
    assert len(chaos) == 5 and all(isinstance(f["seed"], int) for f in chaos)


def test_plan_is_deterministic(day_file, capsys):
    args = ["gameday", "plan", str(day_file), "--from", "2026-12-01T00:00", "--json"]
    main(args)
    first = capsys.readouterr().out
    main(args)
    assert capsys.readouterr().out == first


def test_an_invalid_file_exits_2_with_its_problems(tmp_path, capsys):
    path = tmp_path / "day.yaml"
    path.write_text(DAY.replace("Europe/Berlin", "Europe/Berln"))
    assert main(["gameday", "plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:4:11: timezone: unknown time zone 'Europe/Berln'" in err
    assert f"{path}:11:29: drills[0].experiment: experiment file web.yaml does not exist" in err
    assert "Traceback" not in err


def test_a_bad_from_and_a_bad_next_are_usage_errors(day_file, capsys):
    assert main(["gameday", "plan", str(day_file), "--from", "soon"]) == 2
    assert "--from expected a date and time" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["gameday", "plan", str(day_file), "--next", "0"])
    assert exited.value.code == 2


def test_validate_knows_a_game_day(day_file, tmp_path, capsys):
    assert main(["validate", str(day_file)]) == 0
    assert capsys.readouterr().out == f"{day_file}: ok\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text(DAY.replace('"10:00"', "10:00"))
    assert main(["validate", str(bad)]) == 2
    assert capsys.readouterr().out.startswith(f"{bad}:6:45: windows[0].from: write times in quotes")


def test_schema_gameday_is_the_game_day_format(capsys):
    assert main(["schema", "--gameday"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "chaosdrill game day"
    assert {"timezone", "windows", "blackout", "defaults", "drills", "notify"} <= set(
        schema["properties"]
    )
    assert set(schema["$defs"]["Window"]["properties"]) == {"days", "from", "to"}


def test_the_example_validates_against_the_schema(capsys):
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    main(["schema", "--gameday"])
    schema = json.loads(capsys.readouterr().out)
    document = json.loads(json.dumps(yaml.safe_load(DAY), default=str))
    jsonschema.validate(document, schema)


def test_plan_never_loads_the_docker_sdk(day_file):
    code = (
        "import sys; from chaos.cli.main import main; "
        f"main(['gameday', 'plan', {str(day_file)!r}, '--from', '2026-12-01']); "
        "assert 'docker' not in sys.modules, 'docker imported'"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert "web" in done.stdout
