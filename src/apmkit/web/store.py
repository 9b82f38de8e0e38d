"""Saved designs: one folder per design under the server's work directory.

A saved design holds the files ``apmkit design`` writes (contract.yaml, design.md, design.html, design.json),
the validated answers (answers.yaml, reusable with ``apmkit design --answers``) and meta.json (name, starting
point, classification, who saved it and when). Only aggregate figures are ever stored: the summary has the
population's counts and simulated amounts, never member rows.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from apmkit.design.pipeline import DESIGN_FILES, DesignOutcome
from apmkit.design.worksheet import DesignAnswers
from apmkit.documents import parse_yaml

DOWNLOADS: tuple[str, ...] = (*DESIGN_FILES, "answers.yaml")
"""Files of a saved design that users may download."""

_DESIGN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")


@dataclass(frozen=True)
class SavedDesign:
    """The listing entry of a saved design (meta.json)."""

    id: str
    name: str
    starting_point: str
    lan_category: str
    advanced_apm: bool
    simulated: bool
    created_at: str
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "starting_point": self.starting_point,
            "lan_category": self.lan_category,
            "advanced_apm": self.advanced_apm,
            "simulated": self.simulated,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


class DesignStore:
    """Designs saved under ``root`` (created when missing).

    Parameters
    ----------
    root
        The folder that holds one sub-folder per design.
    """

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def save(self, answers: DesignAnswers, outcome: DesignOutcome, user: str) -> SavedDesign:
        """Write a finished design and return its listing entry."""
        now = datetime.now(UTC)
        design_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
        simulation = outcome.summary.get("simulation")
        meta = SavedDesign(
            id=design_id,
            name=answers.name,
            starting_point=answers.starting_point,
            lan_category=str(outcome.summary["lan"]["category"]),
            advanced_apm=bool(outcome.summary["advanced_apm"]["advanced_apm"]),
            simulated=isinstance(simulation, dict) and "error" not in simulation,
            created_at=now.isoformat(timespec="seconds"),
            created_by=user,
        )
        folder = self.root / design_id
        with self._lock:
            # Write into a hidden folder and rename it, so the listing never shows a half-written design.
            staging = self.root / f".{design_id}"
            staging.mkdir()
            for name in DESIGN_FILES:
                (staging / name).write_text(outcome.files[name], encoding="utf-8")
            (staging / "answers.yaml").write_text(
                yaml.safe_dump(answers.model_dump(mode="json"), sort_keys=False), encoding="utf-8"
            )
            (staging / "meta.json").write_text(json.dumps(meta.to_dict(), indent=2), encoding="utf-8")
            staging.rename(folder)
        return meta

    def list(self) -> list[SavedDesign]:
        """Saved designs, newest first."""
        found = []
        for folder in self.root.iterdir():
            if folder.is_dir() and _DESIGN_ID.match(folder.name) and (folder / "meta.json").is_file():
                data = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
                found.append(SavedDesign(**data))
        return sorted(found, key=lambda d: d.id, reverse=True)

    def get(self, design_id: str) -> SavedDesign | None:
        """The listing entry of one design, or None when there is none by that id."""
        folder = self._folder(design_id)
        if folder is None:
            return None
        return SavedDesign(**json.loads((folder / "meta.json").read_text(encoding="utf-8")))

    def summary(self, design_id: str) -> dict[str, Any] | None:
        """The design summary (design.json)."""
        text = self.read_file(design_id, "design.json")
        return None if text is None else json.loads(text)

    def answers(self, design_id: str) -> dict[str, Any] | None:
        """The validated answers the design was made from."""
        text = self.read_file(design_id, "answers.yaml")
        return None if text is None else parse_yaml(text, "answers.yaml")

    def read_file(self, design_id: str, name: str) -> str | None:
        """The text of one of :data:`DOWNLOADS`, or None."""
        folder = self._folder(design_id)
        if folder is None or name not in DOWNLOADS:
            return None
        return (folder / name).read_text(encoding="utf-8")

    def _folder(self, design_id: str) -> Path | None:
        # The id is matched against the pattern the store generates, so a request can never name a path
        # outside the store ('..', '/', absolute paths).
        if not _DESIGN_ID.match(design_id):
            return None
        folder = self.root / design_id
        return folder if (folder / "meta.json").is_file() else None


__all__ = ["DOWNLOADS", "DesignStore", "SavedDesign"]
