"""A PEP 517 build backend that needs only the standard library.

Reads ``[project]`` (name, version, summary, entry points) from pyproject.toml
and packs the packages listed in ``[tool.minimal-backend] packages`` into a
pure-Python wheel. Enough for pip to build and install the test plugins
offline; not a general-purpose backend (no sdist, no data files).
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pip ships tomli
    from pip._vendor import tomli as tomllib  # type: ignore[no-redef]


def _project() -> tuple[dict, list[str]]:
    data = tomllib.loads(Path("pyproject.toml").read_text())
    packages = data.get("tool", {}).get("minimal-backend", {}).get("packages", [])
    return data["project"], packages


def _dist_info_name(project: dict) -> str:
    name = re.sub(r"[-_.]+", "_", project["name"]).lower()
    return f"{name}-{project['version']}"


def _metadata_files(project: dict) -> dict[str, str]:
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
    ]
    if project.get("description"):
        metadata.append(f"Summary: {project['description']}")
    metadata += [f"Requires-Dist: {dep}" for dep in project.get("dependencies", [])]
    files = {
        "METADATA": "\n".join(metadata) + "\n",
        "WHEEL": "Wheel-Version: 1.0\nGenerator: minimal_backend\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    groups = project.get("entry-points", {})
    if groups:
        files["entry_points.txt"] = "".join(
            f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
            for group, eps in groups.items()
        )
    return files


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    project, _ = _project()
    dist_info = f"{_dist_info_name(project)}.dist-info"
    target = Path(metadata_directory) / dist_info
    target.mkdir(parents=True, exist_ok=True)
    for name, text in _metadata_files(project).items():
        (target / name).write_text(text)
    return dist_info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    project, packages = _project()
    base = _dist_info_name(project)
    files: dict[str, bytes] = {}
    for package in packages:
        for path in sorted(Path(package).rglob("*.py")):
            files[path.as_posix()] = path.read_bytes()
    for name, text in _metadata_files(project).items():
        files[f"{base}.dist-info/{name}"] = text.encode()
    record_name = f"{base}.dist-info/RECORD"
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{record_name},,")
    files[record_name] = ("\n".join(record) + "\n").encode()
    wheel_name = f"{base}-py3-none-any.whl"
    with zipfile.ZipFile(Path(wheel_directory) / wheel_name, "w", zipfile.ZIP_DEFLATED) as whl:
        for name, data in files.items():
            whl.writestr(name, data)
    return wheel_name
